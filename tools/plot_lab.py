#!/usr/bin/python3
"""Draws the figures of the activation and vanishing-gradient lab from the CSVs its examples write.

The lab's three programs write CSV files into one directory (their --out); this script reads
them and writes one PNG per figure:

  activations.csv                  (examples/activations)         -> activations.png
  vanishing_gradient_norms.csv     (examples/vanishing_gradient)  -> gradient_vs_depth.png,
                                                                     layer_norms_depth20.png
  vanishing_gradient_training.csv  (examples/vanishing_gradient)  -> training_depth10.png
  dying_relu.csv                   (examples/dying_relu)          -> dead_neurons.png

The one command that regenerates docs/images from scratch (build, run the examples, plot) is

  tools/lab-figures.sh

Its last step, which can also be run alone on CSVs already written, is

  /usr/bin/python3 tools/plot_lab.py --data build/release/lab --out docs/images

/usr/bin/python3 because matplotlib comes from Debian's python3-matplotlib; another python3
earlier on PATH may not have it. A missing CSV is a warning and only its figures are skipped,
so the script works on partial data (but finding none of them is an error). A CSV without a
column the script needs, with a value that is not a number, or with a count (depth, layer,
step, dead neurons) that is not a whole number, is an error (exit status 1) that names the
file, the line and the column; no figure is written then. Every figure is drawn before any is
written, and each is written to a temporary file renamed over the old one, so the figures in
--out are either all updated or left as they were.
"""

import argparse
import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # writes files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402  (must follow matplotlib.use)
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

DPI = 100
# matplotlib writes its own version into the PNG by default; without it, regenerating the
# figures changes their bytes only when the data or the drawing code changed.
PNG_METADATA = {"Software": None}

INIT_ORDER = ("uniform", "xavier", "he")  # subplot order; any other init follows these
LAYER_NORMS_DEPTH = 20  # depth shown per layer (falls back to the largest depth present)
TRAINING_CEILING = 10  # loss axis top, in multiples of the largest starting loss of a panel


class DataError(Exception):
    """A CSV that exists but cannot be used: a missing column, a value that is not a number or
    a count that is not a whole number."""


# ---------------------------------------------------------------------------------------------
# 1. Reading the CSVs
# ---------------------------------------------------------------------------------------------


def read_table(path, columns, numeric, integer=()):
    """Returns the rows of `path` as dicts of `columns`, with the `numeric` ones as floats and
    the `integer` ones (a subset of `numeric`: counts) as ints.

    Returns None when the file does not exist. Extra columns are ignored, so a program may add
    columns without breaking the plots. float() reads the nan, -nan, inf and -inf that C++
    streams write for diverged values; the plots decide what to skip.
    """
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise DataError(f"{path}: file is empty (expected header {','.join(columns)})")
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        for column in columns:
            if column not in reader.fieldnames:
                raise DataError(
                    f"{path}: missing column '{column}' "
                    f"(header is '{','.join(reader.fieldnames)}')"
                )
        rows = []
        for row in reader:
            record = {}
            for column in columns:
                text = row[column]
                if text is None:  # DictReader's filler for a row shorter than the header
                    raise DataError(f"{path}:{reader.line_num}: no value in column '{column}'")
                text = text.strip()
                if column in numeric:
                    try:
                        record[column] = float(text)
                    except ValueError:
                        raise DataError(
                            f"{path}:{reader.line_num}: column '{column}': "
                            f"'{text}' is not a number"
                        ) from None
                    if column in integer:
                        value = record[column]
                        if not (math.isfinite(value) and value == int(value)):
                            raise DataError(
                                f"{path}:{reader.line_num}: column '{column}': "
                                f"'{text}' is not a whole number"
                            )
                        record[column] = int(value)
                else:
                    record[column] = text
            rows.append(record)
    return rows


def in_file_order(values):
    """Distinct values in the order they first appear (the programs' own order)."""
    return list(dict.fromkeys(values))


def init_order(rows):
    present = in_file_order(r["init"] for r in rows)
    return [i for i in INIT_ORDER if i in present] + [i for i in present if i not in INIT_ORDER]


def activation_colors(names):
    """One colour per activation, so that it has the same colour in every panel."""
    return {name: f"C{i % 10}" for i, name in enumerate(names)}


def activation_formats(names):
    """One marker and line style per activation, so that lines lying on top of each other
    (ReLU and Leaky ReLU often do) stay distinguishable."""
    formats = ["o-", "s--", "^-.", "d:", "v-", "x--"]
    return {name: formats[i % len(formats)] for i, name in enumerate(names)}


def loggable(values):
    """The values with everything a log axis cannot show (0, negatives, nan, inf) set to nan;
    matplotlib leaves a gap there instead of dropping the whole line."""
    a = np.asarray(values, dtype=float)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def init_panels(count, sharey):
    """A row of `count` panels, one per init; at least wide enough for the figure's title."""
    return plt.subplots(1, count, figsize=(max(5 * count, 8), 4.5), sharey=sharey, squeeze=False)


def note_if_empty(ax, has_data, message="no nonzero finite values"):
    if not has_data:
        ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


# ---------------------------------------------------------------------------------------------
# 2. activations.csv: each function beside the derivative backward() computed for it
# ---------------------------------------------------------------------------------------------


def plot_activations(rows):
    by_function = defaultdict(list)
    for r in rows:
        by_function[r["function"]].append(r)
    names = list(by_function)  # insertion order = file order

    ncols = 3
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(12, 3 * nrows + 1), squeeze=False)
    for ax, name in zip(axes.flat, names):
        points = sorted(by_function[name], key=lambda r: r["x"])
        x = np.array([r["x"] for r in points])
        value = np.array([r["value"] for r in points])
        derivative = np.array([r["derivative"] for r in points])

        ax.axhline(0, color="0.5", linewidth=0.8)
        ax.plot(x, value, color="C0", label="f(x)")
        ax.plot(x, derivative, "--", color="C1", label="f'(x) from backward()")
        finite = np.isfinite(derivative)
        if finite.any():
            i = int(np.argmax(np.where(finite, derivative, -np.inf)))
            ax.plot(x[i], derivative[i], "o", color="C3", label="max f'(x)",
                    clip_on=False)  # the maximum may sit on the edge (softplus: x = 6)
            # Top left is empty for every function of the lab (each is flat or falling there).
            ax.text(0.03, 0.95, f"max f' = {derivative[i]:.3g} at x = {x[i]:.2f}",
                    transform=ax.transAxes, va="top", fontsize=9)
        ax.set_xlim(-6, 6)
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(names):]:
        ax.axis("off")

    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(handles))
    fig.suptitle("Activation functions (solid) and their derivatives from backward() (dashed)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


# ---------------------------------------------------------------------------------------------
# 3. vanishing_gradient_norms.csv: how the weight-gradient norm changes from layer to layer
# ---------------------------------------------------------------------------------------------


def norms_by_run(rows):
    """{(activation, init, depth): {layer: grad_norm}}"""
    runs = defaultdict(dict)
    for r in rows:
        runs[(r["activation"], r["init"], int(r["depth"]))][int(r["layer"])] = r["grad_norm"]
    return runs


def first_over_last(norms, depth):
    """The first layer's gradient norm over the output layer's; below 1 the gradient shrinks on
    its way back to the input. nan (a gap in the plot) when either norm is 0 or not finite."""
    first, last = norms.get(1, math.nan), norms.get(depth, math.nan)
    if not (math.isfinite(first) and math.isfinite(last) and first > 0 and last > 0):
        return math.nan
    return first / last


def plot_gradient_vs_depth(rows):
    runs = norms_by_run(rows)
    activations = in_file_order(r["activation"] for r in rows)
    colors = activation_colors(activations)
    formats = activation_formats(activations)
    inits = init_order(rows)

    fig, axes = init_panels(len(inits), sharey=True)
    for ax, init in zip(axes.flat, inits):
        panel_has_data = False
        for activation in activations:
            depths = sorted(d for (a, i, d) in runs if a == activation and i == init)
            if not depths:
                continue
            ratio = loggable([first_over_last(runs[(activation, init, d)], d) for d in depths])
            shown = np.isfinite(ratio).any()
            panel_has_data |= shown
            ax.plot(depths, ratio, formats[activation], markersize=3, color=colors[activation],
                    label=activation if shown else f"{activation} (no finite ratio)")
        note_if_empty(ax, panel_has_data, "no finite nonzero ratio")
        ax.axhline(1, color="k", linestyle=":", linewidth=1, label="ratio 1 (no decay)")
        ax.set_yscale("log")
        ax.set_title(f"init: {init}")
        ax.set_xlabel("depth (number of weight layers)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    axes.flat[0].set_ylabel(r"$\|\nabla W_1\| \;/\; \|\nabla W_{\mathrm{depth}}\|$ (log scale)")
    fig.suptitle("First-layer over last-layer weight-gradient norm, against depth")
    fig.tight_layout()
    return fig


def plot_layer_norms(rows):
    runs = norms_by_run(rows)
    depths = {d for (_, _, d) in runs}
    depth = LAYER_NORMS_DEPTH if LAYER_NORMS_DEPTH in depths else max(depths)
    activations = in_file_order(r["activation"] for r in rows)
    colors = activation_colors(activations)
    formats = activation_formats(activations)
    inits = init_order(rows)

    fig, axes = init_panels(len(inits), sharey=True)
    any_data = False
    for ax, init in zip(axes.flat, inits):
        panel_has_data = False
        for activation in activations:
            norms = runs.get((activation, init, depth))
            if norms is None:
                continue
            layers = sorted(norms)
            values = loggable([norms[k] for k in layers])
            shown = np.isfinite(values).any()
            panel_has_data |= shown
            ax.plot(layers, values, formats[activation], markersize=3, color=colors[activation],
                    label=activation if shown else f"{activation} (all zero or non-finite)")
        any_data |= panel_has_data
        note_if_empty(ax, panel_has_data)
        ax.set_title(f"init: {init}")
        ax.set_xlabel("layer (1 = next to the input)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if any_data:  # a log axis with nothing positive on it would only produce warnings
        for ax in axes.flat:
            ax.set_yscale("log")
    axes.flat[0].set_ylabel("weight-gradient norm" + (" (log scale)" if any_data else ""))
    fig.suptitle(f"Weight-gradient norm per layer, network of depth {depth}")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 4. vanishing_gradient_training.csv: what the gradients above do to training
# ---------------------------------------------------------------------------------------------


def plot_training(rows):
    curves = defaultdict(list)  # (activation, init) -> [(step, loss)]
    for r in rows:
        curves[(r["activation"], r["init"])].append((r["step"], r["loss"]))
    activations = in_file_order(r["activation"] for r in rows)
    colors = activation_colors(activations)
    inits = init_order(rows)

    fig, axes = init_panels(len(inits), sharey=False)
    for ax, init in zip(axes.flat, inits):
        panel = []  # (activation, step, loss) of each run in this panel
        for activation in activations:
            points = sorted(curves.get((activation, init), []))
            if points:
                step, loss = np.array(points).T
                panel.append((activation, step, loss))
        # One diverging run would squash every other curve into the bottom edge, so the axis
        # stops at TRAINING_CEILING times the largest starting loss; the legend says which
        # runs leave it, and where.
        starts = [abs(loss[np.isfinite(loss)][0]) for _, _, loss in panel
                  if np.isfinite(loss).any()]
        ceiling = TRAINING_CEILING * max(starts) if starts and max(starts) > 0 else math.inf
        finite_losses, clipped = [], False
        for activation, step, loss in panel:
            finite = np.isfinite(loss)
            above = finite & (loss > ceiling)
            notes = []
            if above.any():
                notes.append(f"off the top from step {int(step[above][0])}")
            if not finite.all():  # non-finite points are skipped; say where the line stops
                notes.append(f"nan/inf from step {int(step[~finite][0])}")
            label = activation + (f" ({'; '.join(notes)})" if notes else "")
            ax.plot(step[finite], loss[finite], color=colors[activation], label=label)
            finite_losses.append(loss[finite])
            clipped |= bool(above.any())
        losses = np.concatenate(finite_losses) if finite_losses else np.array([])
        note_if_empty(ax, losses.size > 0, "no finite losses")
        log_y = losses.size > 0 and bool((losses > 0).all())
        if log_y:
            ax.set_yscale("log")
        if clipped:  # autoscaling saw the runs above the ceiling: scale to the others
            low = losses[losses <= ceiling].min()
            ax.set_ylim(low / 1.5 if log_y else low - 0.05 * (ceiling - low), ceiling)
        ax.set_title(f"init: {init}")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss (log scale)" if log_y else "loss")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("Training loss of a depth-10 network")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 5. dying_relu.csv: hidden neurons that no training input switches on any more
# ---------------------------------------------------------------------------------------------


def plot_dead_neurons(rows):
    # (activation, learning rate as written) -> seed -> step -> dead. The learning rate stays
    # text so that the legend shows it exactly as the program wrote it.
    groups = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        groups[(r["activation"], r["learning_rate"])][r["seed"]][r["step"]] = r["dead"]

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for n, ((activation, learning_rate), seeds) in enumerate(groups.items()):
        steps = sorted({s for by_step in seeds.values() for s in by_step})
        # Per step, the seeds that reached it (a seed may stop early).
        counts = [[by_step[s] for by_step in seeds.values() if s in by_step] for s in steps]
        color = f"C{n % 10}"
        ax.fill_between(steps, [min(c) for c in counts], [max(c) for c in counts],
                        color=color, alpha=0.2, linewidth=0)
        ax.plot(steps, [np.mean(c) for c in counts], color=color,
                label=f"{activation}, lr = {learning_rate} ({len(seeds)} seeds)")
    ax.set_ylim(bottom=-0.5)  # keeps a line that stays at 0 visible above the axis
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training step (0 = before training)")
    ax.set_ylabel("dead hidden neurons (mean over seeds)")
    ax.set_title("Dead hidden neurons during training (line: mean; band: min to max over seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 6. Which CSV feeds which figures
# ---------------------------------------------------------------------------------------------

# (CSV file, columns read, of which numeric, of which whole numbers, [(figure function, PNG file)])
TABLES = (
    ("activations.csv",
     ("function", "x", "value", "derivative"),
     ("x", "value", "derivative"),
     (),
     [(plot_activations, "activations.png")]),
    ("vanishing_gradient_norms.csv",
     ("activation", "init", "depth", "layer", "grad_norm"),
     ("depth", "layer", "grad_norm"),
     ("depth", "layer"),
     [(plot_gradient_vs_depth, "gradient_vs_depth.png"),
      (plot_layer_norms, "layer_norms_depth20.png")]),
    ("vanishing_gradient_training.csv",
     ("activation", "init", "step", "loss"),
     ("step", "loss"),
     ("step",),
     [(plot_training, "training_depth10.png")]),
    ("dying_relu.csv",
     ("activation", "learning_rate", "seed", "step", "dead"),
     ("step", "dead"),
     ("step", "dead"),
     [(plot_dead_neurons, "dead_neurons.png")]),
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="directory holding the lab's CSV files")
    parser.add_argument("--out", type=Path, required=True,
                        help="directory to write the PNG figures into (created if needed)")
    args = parser.parse_args(argv)

    if not args.data.is_dir():
        sys.exit(f"plot_lab: error: data directory {args.data} does not exist")

    # Read and check every CSV before drawing, so that a malformed file leaves no half-updated
    # set of figures behind.
    work = []
    try:
        for name, columns, numeric, integer, figures in TABLES:
            path = args.data / name
            rows = read_table(path, columns, numeric, integer)
            skipped = ", ".join(png for _, png in figures)
            if rows is None:
                print(f"plot_lab: warning: {path} not found; skipping {skipped}", file=sys.stderr)
            elif not rows:
                print(f"plot_lab: warning: {path} has no data rows; skipping {skipped}",
                      file=sys.stderr)
            else:
                work.extend((plot, png, rows) for plot, png in figures)
    except DataError as error:
        sys.exit(f"plot_lab: error: {error}")
    if not work:
        sys.exit(f"plot_lab: error: no lab CSV with data in {args.data}")

    if args.out.exists() and not args.out.is_dir():
        sys.exit(f"plot_lab: error: --out {args.out} exists and is not a directory")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        sys.exit(f"plot_lab: error: cannot create the directory {args.out}: {error.strerror}")

    # Draw every figure first, into temporary files beside their targets; rename them over the
    # old figures only once all are written, so a failure leaves the old set as it was.
    written = []  # (temporary, target)
    try:
        for plot, png, rows in work:
            fig = plot(rows)
            path = args.out / png
            temporary = path.with_name(f".{png}.tmp")
            written.append((temporary, path))
            fig.savefig(temporary, dpi=DPI, metadata=PNG_METADATA, format="png")
            plt.close(fig)
    except BaseException as error:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            sys.exit(f"plot_lab: error: cannot write {error.filename}: {error.strerror}")
        raise
    for temporary, path in written:
        temporary.replace(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
