"""Analyses over model runs: hindcast against published facts, sensitivity indices of the targets, lever seek."""
