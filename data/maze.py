"""A grid maze with treasure chests: the environment of the policy-gradient examples
(MLP4P lectures 7-9, MLMM 14).

Reinforcement learning has no targets, so the arrays are not samples and labels in the
usual sense: every row of x is the start of one episode (the maze, its chests and the
robot in the top-left corner, as three image channels) and the matching row of y holds
the rules of that episode, (number of steps, wall penalty). A training batch is a batch
of trajectories; the test split is the set of episodes a policy is scored on.
"""

import numpy as np

from mlphys.datasets import Dataset, infer_spec, register_dataset
from mlphys.errors import UserError

WALL, CHEST, ROBOT = 0, 1, 2   # the channels of a state image


def carve_maze(size, rng, loops=0.0):
    """An (size, size) array, 1 = wall, 0 = free: a maze carved by a randomised
    depth-first search, then a fraction `loops` of the walls left between rooms removed.

    Rooms sit at the even coordinates (0, 2, 4, ...); the search knocks down the wall
    between a room and a random unvisited neighbour, backtracking at dead ends, which
    gives a perfect maze (one path between any two squares). Removing more walls between
    rooms opens loops and shortcuts. For an even size the last row and column stay walls.
    The loop runs over the rooms of one maze (at most a few hundred), not over samples.
    """
    walls = np.ones((size, size), dtype=np.int8)
    rooms = (size + 1) // 2
    visited = np.zeros((rooms, rooms), dtype=bool)
    stack = [(0, 0)]
    visited[0, 0] = True
    walls[0, 0] = 0
    steps = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])
    while stack:
        r, c = stack[-1]
        around = np.array([r, c]) + steps
        inside = np.all((around >= 0) & (around < rooms), axis=1)
        around = around[inside]
        around = around[~visited[around[:, 0], around[:, 1]]]
        if len(around) == 0:
            stack.pop()
            continue
        nr, nc = around[rng.integers(len(around))]
        visited[nr, nc] = True
        walls[2 * nr, 2 * nc] = 0
        walls[r + nr, c + nc] = 0        # the wall between the two rooms
        stack.append((int(nr), int(nc)))
    rows, cols = np.indices(walls.shape)
    between = walls.astype(bool) & ((rows % 2) != (cols % 2))     # a wall between two rooms
    between &= (rows < 2 * (rooms - 1) + 1) & (cols < 2 * (rooms - 1) + 1)
    candidates = np.flatnonzero(between)
    opened = rng.choice(candidates, int(round(loops * len(candidates))), replace=False)
    walls.ravel()[opened] = 0
    return walls


def place_chests(walls, chests, rng):
    """A 0/1 array of `chests` chests on distinct free squares, leaving at least one free
    square for the robot (the top-left corner when it is free)."""
    free = np.flatnonzero(walls.ravel() == 0)
    free = free[free != 0]                  # the corner stays free for a robot
    if chests > len(free):
        size = walls.shape[0]
        raise UserError(f"--option chests={chests}: a {size}x{size} maze has only "
                        f"{len(free) + 1} free squares, room for at most {len(free)} chests "
                        "and the robot; use fewer chests or a larger size")
    board = np.zeros(walls.size, dtype=np.int8)
    board[rng.choice(free, chests, replace=False)] = 1
    return board.reshape(walls.shape)


def start_squares(walls, board, n, start, rng):
    """Flat indices of the robot's start square for n episodes: the top-left corner, or
    squares drawn uniformly from the free squares without a chest."""
    if start == "corner":
        return np.zeros(n, dtype=np.int64)
    empty = np.flatnonzero((walls.ravel() == 0) & (board.ravel() == 0))
    return rng.choice(empty, n)


@register_dataset("maze", cache=True, task="regression", kind="image", shape="7x7x3",
                  source="MLP4P lectures 7-9; MLMM 14", licence="generated",
                  formula="""
                  M x M grid, perfect maze by randomised depth-first search (rooms at even
                  coordinates), then a fraction `loops` of the walls between rooms opened;
                  `chests` chests on random free squares; the robot starts on a random free
                  square without a chest (start=random, drawn per episode) or at (0, 0)
                  state = 3 channels (walls, chests, robot); actions: stay, up, down, left, right
                  reward per step = +1 for a chest picked up (it disappears)
                                    - wall_penalty for a move into a wall or off the grid
                                      (the robot stays where it is)
                  episode = episode_length steps; return = sum of the rewards
                  y per row = (episode_length, wall_penalty): the rules of that episode
                  """)
def maze(size: int = 7, chests: int = 3, loops: float = 0.3, start: str = "random",
         wall_penalty: float = 0.5,
         episode_length: int = 30, n_train: int = 512, n_val: int = 64, n_test: int = 1000,
         seed: int = 0):
    """A treasure-chest maze for reinforcement learning: one maze, many episodes.

    size: M, the side of the grid in squares; chests: how many; loops: the fraction of the
    walls between rooms that a perfect maze keeps and this one opens (0: a perfect maze,
    1: an open grid of pillars); start: where each episode begins, "random" (a free square
    without a chest, drawn per episode) or "corner" (the top-left square); wall_penalty:
    the reward
    lost for bumping into a wall (>= 0); episode_length: steps per episode; n_train: start
    states the training batches (of trajectories) are drawn from (all the same maze);
    n_val: episodes played after every epoch to validate the policy (val_mean_return;
    best.keras keeps the best); n_test: episodes a policy is scored on.
    """
    if size < 3:
        raise UserError(f"--option size={size}: a maze needs size >= 3")
    if chests < 1:
        raise UserError(f"--option chests={chests}: give at least one chest")
    if not 0 <= loops <= 1:
        raise UserError(f"--option loops={loops}: give a fraction in [0, 1]")
    if start not in ("random", "corner"):
        raise UserError(f"--option start={start}: choose random or corner")
    if wall_penalty < 0:
        raise UserError(f"--option wall_penalty={wall_penalty}: the penalty must be >= 0 "
                        "(it is subtracted)")
    if episode_length < 1:
        raise UserError(f"--option episode_length={episode_length}: give at least one step")
    if min(n_train, n_val, n_test) < 1:
        raise UserError(f"n_train={n_train}, n_val={n_val}, n_test={n_test}: give at least "
                        "one episode each")
    rng = np.random.default_rng(seed)
    walls = carve_maze(size, rng, loops)
    board = place_chests(walls, chests, rng)
    n = n_train + n_val + n_test
    robot = np.zeros((n, size * size), dtype=np.float32)
    robot[np.arange(n), start_squares(walls, board, n, start, rng)] = 1
    x = np.empty((n, size, size, 3), dtype=np.float32)
    x[..., WALL], x[..., CHEST] = walls, board
    x[..., ROBOT] = robot.reshape(n, size, size)
    y = np.tile(np.array([episode_length, wall_penalty], dtype=np.float32), (n, 1))
    spec = infer_spec(x, y, "regression")
    val = n_train + n_val
    return Dataset("maze", spec, x[:n_train], y[:n_train], x[val:], y[val:],
                   x_val=x[n_train:val], y_val=y[n_train:val],
                   provenance={"generator": "maze", "seed": seed, "size": size,
                               "chests": chests, "loops": loops, "free_squares": int((walls == 0).sum()),
                               "start": start, "layout": maze_text(x[0])})


def maze_text(state):
    """The maze of a state image as text rows: '#' wall, '$' chest, 'R' robot, '.' free."""
    rows = []
    for r in range(state.shape[0]):
        row = ""
        for c in range(state.shape[1]):
            row += ("R" if state[r, c, ROBOT] else "$" if state[r, c, CHEST]
                    else "#" if state[r, c, WALL] else ".")
        rows.append(row)
    return rows
