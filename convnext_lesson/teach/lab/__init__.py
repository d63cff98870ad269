"""What a learner does with their hands: exercises with their checks and solutions, blocks written by hand.

``exercises`` (self-checking exercises; ``solutions/`` one module a notebook), ``block_code`` (plain-PyTorch
blocks checked against the course's), ``branch_scale`` (the check before blaming the data), ``own_loop`` (a
learner's training step proved equal to the Trainer's) and ``pretrained`` (notebook 10's published weights and
fine-tuning).
"""
