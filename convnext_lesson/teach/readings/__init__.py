"""What our runs say: each step's effect against the seed-to-seed noise, and the follow-ups' rules and readings.

``step_effects`` (a step's effect and its noise band), ``followups`` (hypotheses where our small-scale roadmap
disagrees with the paper, their rules written before the runs) and ``step16_parts`` (step 16 taken apart).
"""
