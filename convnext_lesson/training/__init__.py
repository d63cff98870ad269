"""The training room: running a network on data (datasets, recipes, the one Trainer, checkpoints, records).

``plan_run(step)`` says what a run will do; ``execute(plan)`` does it; ``train(step)`` is both.
``ladder`` climbs several steps; ``finetune.finetune`` fine-tunes a network with a new head. All of them
run on ``engine.Trainer``. This room imports only the model room.
"""
from .plan import RunPlan, plan_run
from .run import RunResult, execute, train
