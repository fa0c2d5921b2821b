"""Zoo part 2: policy_gradient (maze), rbm, tsne_latent and `mlphys embed`."""

import json

import numpy as np

from conftest import assert_user_error


def test_maze_generator():
    from mlphys.data.maze import CHEST, ROBOT, WALL
    from mlphys.datasets import load_dataset

    a = load_dataset("maze", {"size": 9, "chests": 4, "seed": 3})
    b = load_dataset("maze", {"size": 9, "chests": 4, "seed": 3})
    assert np.array_equal(a.x_train, b.x_train)
    x = a.x_train
    assert x.shape[1:] == (9, 9, 3) and len(a.x_val) == 64 and len(a.x_test) == 1000
    assert np.all(x[..., CHEST].sum(axis=(1, 2)) == 4)
    assert np.all(x[..., ROBOT].sum(axis=(1, 2)) == 1)
    # nothing on a wall, the robot never on a chest, the same maze in every row
    assert not np.any(x[..., WALL] * (x[..., CHEST] + x[..., ROBOT]))
    assert not np.any(x[..., CHEST] * x[..., ROBOT])
    assert np.all(x[..., WALL] == x[:1, ..., WALL])
    assert np.allclose(a.y_train, [30, 0.5])
    # a perfect maze (loops=0) on rooms at even coordinates is a tree: free squares are
    # 25 rooms + 24 passages on 9x9, all connected
    walls = load_dataset("maze", {"size": 9, "loops": 0.0}).x_train[0, ..., WALL]
    free = {(r, c) for r, c in zip(*np.nonzero(walls == 0))}
    assert len(free) == 49
    seen, todo = {(0, 0)}, [(0, 0)]
    while todo:
        r, c = todo.pop()
        for step in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nxt = (r + step[0], c + step[1])
            if nxt in free and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == free


def test_maze_episode_rules():
    """A hand-made corridor: walking right collects the chest; bumping costs the penalty."""
    import keras

    from mlphys.datasets import DataSpec
    from mlphys.models._policy_layers import PolicyGradient
    from mlphys.models.policy_gradient import policy_gradient
    import keras_tuner

    spec = DataSpec((3, 3, 3), "regression", 2, "image", label_format="value",
                    target_shape=(2,))
    model = policy_gradient(keras_tuner.HyperParameters(), spec)
    state = np.zeros((1, 3, 3, 3), np.float32)
    state[0, 1, :, 0] = 1           # a wall along the middle row
    state[0, 0, 2, 1] = 1           # a chest at the top right
    state[0, 0, 0, 2] = 1           # the robot at the top left
    rules = np.array([[4, 0.5]], np.float32)
    # a policy that always goes right: dense weights zero, bias towards action 4
    for layer in model.policy.layers:
        for w in layer.weights:
            w.assign(np.zeros(w.shape))
    bias = model.policy.get_layer("action_probabilities").bias
    bias.assign(np.array([0, 0, 0, 0, 50.0]))
    _, actions, rewards = model.episodes(state, rules, "greedy")
    assert np.all(np.asarray(actions) == 4)
    # right (empty), right (chest +1), right (off the grid -0.5), right (-0.5)
    assert np.allclose(np.ravel(rewards), [0, 1, -0.5, -0.5])
    assert isinstance(model, PolicyGradient)
    keras.backend.clear_session()


def test_errors(run_cli, tmp_path):
    assert_user_error(run_cli("train", "policy_gradient", "-o", "size=3", "-o", "chests=9",
                              "--out", tmp_path), "chests=9", "fewer chests")
    assert_user_error(run_cli("train", "tsne_latent", "-d", "digits", "--epochs", 1,
                              "--out", tmp_path), "multiples of 9")


def test_train_evaluate_embed_cli(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(tmp_path))
    # policy_gradient: tabular, tiny maze, one short epoch; reopened by evaluate
    result = run_cli("train", "policy_gradient", "-p", "policy=tabular", "-o", "size=5",
                     "-o", "chests=2", "-o", "episode_length=8", "-o", "n_test=50",
                     "--epochs", 1, "--seed", 0, "--out", tmp_path / "pg")
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "pg").iterdir())
    assert "mean_return" in (run / "history.csv").read_text().splitlines()[0]
    result = run_cli("evaluate", run, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert {"mean_return", "random_return", "greedy_return"} <= set(metrics)

    # rbm on 8x8 digits, one epoch; samples.png drawn; evaluate reopens it
    result = run_cli("train", "rbm", "-o", "size=8", "--epochs", 1, "--seed", 0,
                     "--out", tmp_path / "rbm")
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "rbm").iterdir())
    assert (run / "samples.png").is_file()
    result = run_cli("evaluate", run, "--json")
    assert result.exit_code == 0, result.output
    assert "reconstruction_error" in json.loads(result.output)["metrics"]

    # tsne_latent on 200 squares, one epoch; then `mlphys embed` with PCA and t-SNE
    result = run_cli("train", "tsne_latent", "-o", "n_train=200", "-o", "n_test=60",
                     "--epochs", 1, "--seed", 0, "--out", tmp_path / "ae")
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "ae").iterdir())
    assert (run / "embedding" / "embedding.png").is_file()
    result = run_cli("evaluate", run)
    assert result.exit_code == 0, result.output
    result = run_cli("embed", run, "--layer", "bottleneck", "--method", "pca", "--n", 50,
                     "--out", tmp_path / "map")
    assert result.exit_code == 0, result.output
    assert "10-NN accuracy" in result.output
    saved = np.load(tmp_path / "map" / "embedding.npz")
    assert saved["points"].shape == (50, 2) and saved["activations"].shape == (50, 9)
    assert set(np.unique(saved["labels"])) <= {0, 1}
    assert_user_error(run_cli("embed", run, "--layer", "bottlenek"),
                      "unknown layer 'bottlenek'", "'bottleneck'", "encode_1")
    assert_user_error(run_cli("embed", run, "--layer", "bottleneck", "--n", 10,
                              "--perplexity", 20), "perplexity")
    assert_user_error(run_cli("embed", run, "--layer", "bottleneck", "--method", "pca",
                              "--n", 50, "--out", tmp_path / "map"), "already has")


def test_separation_score():
    from mlphys.embedding import separation

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    apart = rng.normal(size=(200, 2)) + labels[:, None] * 10.0
    mixed = rng.normal(size=(200, 2))
    assert separation(apart, labels)["knn_accuracy"] == 1.0
    assert separation(apart, labels)["silhouette"] > 0.8
    assert separation(mixed, labels)["knn_accuracy"] < 0.7


def test_no_tensorflow_at_import():
    import subprocess
    import sys

    code = ("import sys, mlphys.models.policy_gradient, mlphys.models.rbm, "
            "mlphys.models.tsne_latent, mlphys.data.maze, mlphys.data.squares, "
            "mlphys.embedding, mlphys.cli.embed; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
