"""A notebook that needs a step an earlier notebook trained takes the learner's run, else the committed reference
run labelled as such, and trains only when asked (a fresh Colab runtime must not retrain silently)."""
import convnext_lesson as cl


def test_a_step_not_in_the_runs_folder_is_the_reference_run_labelled_and_nothing_trains(tmp_path, monkeypatch,
                                                                                         capsys):
    monkeypatch.setenv("CONVNEXT_LESSON_RUNS", str(tmp_path))
    shown = cl.lesson.earlier_run(0, "01", profile="smoke")
    said = capsys.readouterr().out
    assert shown.reference and shown.model is None and not any(tmp_path.iterdir())  # nothing trained
    [first] = [r for r in cl.reference_results("resnet50", "cpu")[0] if r["seed"] == 0]
    assert shown.record == first and "committed reference run, not yours" in said and "cpu profile, seed 0" in said
    assert "reference, cpu" in cl.lesson.history_figure(shown).axes[1].get_legend().get_texts()[0].get_text()


def test_the_learners_own_run_is_taken_and_train_true_trains_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVNEXT_LESSON_RUNS", str(tmp_path))
    trained = cl.lesson.earlier_run(0, "01", train=True, profile="smoke", progress=False, verbose=False)
    assert not trained.reference and trained.record["profile"] == "smoke" and trained.model is not None
    again = cl.lesson.earlier_run(0, "01", profile="smoke")
    assert not again.reference and again.record["top1"] == trained.record["top1"]
    assert "already trained" in capsys.readouterr().out


def test_an_experiments_committed_runs_are_shown_labelled_beside_the_steps_own(monkeypatch, capsys):
    from convnext_lesson.teach import notebook
    from convnext_lesson.training import paths, results

    shown = []
    monkeypatch.setattr(notebook, "show_photos", shown.append)
    cl.lesson.experiment_result(5)
    said = capsys.readouterr().out
    [variant] = [v for v in results.find_records(paths.REFERENCE / "variants") if v["step"] == 5]
    [base] = [r for r in cl.reference_results("resnet50", "cpu")[5] if r["seed"] == variant["seed"]]
    assert said.startswith("committed reference run, cpu profile, seed 0")
    assert f"depthwise=False: top-1 {variant['top1']:.1f}%" in said and f"top-1 {base['top1']:.1f}%" in said
    assert f"difference {variant['top1'] - base['top1']:+.1f} points" in said and not shown
    assert " ".join(f"{m['val_top1']:4.1f}" for m in variant["history"]) in said  # epoch by epoch
    cl.lesson.experiment_result(5, curves=True)
    assert len(shown) == 1
    capsys.readouterr()
    cl.lesson.experiment_result(4)
    assert capsys.readouterr().out == "No committed cpu experiment on step 4 yet.\n"


def test_a_smoke_runs_curves_get_the_committed_run_of_the_same_network_beside_them():
    import matplotlib

    matplotlib.use("Agg")
    [committed] = [r for r in cl.reference_results("resnet50", "cpu")[1] if r["seed"] == 0]
    smoke = {**committed, "profile": "smoke", "history": committed["history"][:3]}  # a smoke run's record, say
    fig = cl.lesson.history_figure(smoke, reference="cpu")
    loss, top1, lr = fig.axes
    names = [t.get_text() for t in top1.get_legend().get_texts()]
    assert names == ["step 1 (smoke, imagenette)", "step 1 (smoke, imagenette): committed cpu run, seed 0"]
    assert [line.get_linestyle() for line in top1.lines] == ["-", "--"]
    assert list(top1.lines[1].get_ydata()) == [m["val_top1"] for m in committed["history"]]
    alone = cl.lesson.history_figure(committed, reference="cpu")  # the committed run itself: no twin
    assert len(alone.axes[1].lines) == 1
    other_kernels = {**committed, "history": [{**m, "val_top1": m["val_top1"] - 0.5} for m in committed["history"]]}
    assert len(cl.lesson.history_figure(other_kernels, reference="cpu").axes[1].lines) == 2  # a cpu run that differs
    other_seed = {**smoke, "seed": 7}  # no committed run of seed 7: nothing added
    assert len(cl.lesson.history_figure(other_seed, reference="cpu").axes[1].lines) == 1
    assert len(cl.lesson.history_figure(smoke).axes[1].lines) == 1  # the figure alone adds nothing by default
