"""The Guangxi province model: dataset loading and validation, scenario schema, freight demand, the urban green-trip
model, the coupling year loop and the plan's targets. Engines live in `networks` and `fleets`; results, charts and
the command line in `runs`."""

__version__ = "0.1.0"
