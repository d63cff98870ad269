"""The train room: running a network on data (datasets, recipes, the one Trainer, checkpoints, records, profiles).

``train(step)`` trains one roadmap step; ``ladder`` climbs several; ``finetune`` fine-tunes a network
with a new head; all of them run on ``engine.Trainer``. It imports only the model room.
"""
from .run import RunResult, train
