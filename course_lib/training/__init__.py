"""Training: `TrainTask`, `EvalTask` and `Loop`, as in Trax's `trax.supervised.training`.

    train_task = training.TrainTask(
        labeled_data=train_batches,                 # (inputs, targets, weights), forever
        loss_layer=tl.CrossEntropyLoss(),
        optimizer=optimizers.Adam(0.01),
        n_steps_per_checkpoint=10)
    eval_task = training.EvalTask(
        labeled_data=eval_batches, metrics=[tl.CrossEntropyLoss(), tl.Accuracy()])
    loop = training.Loop(model, train_task, eval_tasks=[eval_task], output_dir=output_dir)
    loop.run(n_steps=100)
"""
from course_lib.training.history import History
from course_lib.training.loop import Loop
from course_lib.training.tasks import EvalTask, TrainTask

__all__ = ["TrainTask", "EvalTask", "Loop", "History"]
