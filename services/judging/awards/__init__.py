"""Awards: what final results earn (honours, grade promotions, talent-file entries), sent to the
registry exactly once per outcome, with their delivery state."""
