"""Vehicle vocabularies of the adapter: the NEV powertrain group and the segment/powertrain sets."""

from __future__ import annotations

from fleets import GROUPS, POWERTRAINS, SEGMENTS

P = len(POWERTRAINS)
NEV = GROUPS["nev"]  # the engine owns the policy groups
SEG_SET = frozenset(SEGMENTS)
PT_SET = frozenset(POWERTRAINS)
