"""Vehicle vocabularies of the adapter: the NEV powertrain group and the segment/powertrain sets."""

from __future__ import annotations

from fleets import POWERTRAINS, SEGMENTS

P = len(POWERTRAINS)
NEV = ("phev", "bev", "fcev")
SEG_SET = frozenset(SEGMENTS)
PT_SET = frozenset(POWERTRAINS)
