// Pictures of a graph: Graphviz DOT text (to_dot) and SVG/PNG/PDF files (render).
// See docs/graphs.md for an example, the colour scale and the clustering rule.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "scalargrad/value.hpp"

namespace scalargrad {

/// How to_dot() and render() draw a graph.
///
/// Numbers (data and grad) are written in fixed notation with `precision` digits after the
/// decimal point (2.0000), except a nonzero number that would then read as zero (1e-12 with
/// precision 4) and one of magnitude 10^6 or more, which are written in scientific notation with
/// the same precision (1.0000e-12, 2.5000e+07); -0 reads 0.0000; NaN and infinities read
/// "nan", "inf", "-inf". Op constants (the 2 of `x * 2.0`) are written in their shortest exact
/// form.
///
/// color_by_grad fills each value by log10 |grad|, one shade per decade (viridis, dark to
/// light): |grad| >= 1 darkest, then [0.1, 1), [0.01, 0.1), ... [1e-8, 1e-7), and lightest
/// (yellow) below 1e-8; a gradient of exactly 0 is grey and a NaN or infinite one red. A legend
/// node and a comment in the DOT text give the scale.
///
/// cluster_layers: a value labelled "<cluster>/<name>" (split at the last '/', both parts
/// non-empty, e.g. "layer1/w0") is drawn in a box titled <cluster>, its record showing <name>.
/// An op result without a label joins
///   1. the cluster of its leaf operands labelled "<cluster>/<name>", if there is at least one
///      and they all name the same cluster (a layer's weights decide, not its inputs); else
///   2. the cluster of its operands that are in a cluster, if there is at least one and they all
///      are in the same one (an activation joins its layer); else no cluster.
/// Other values (leaves and results with a label of another form) are in no cluster; an op's
/// ellipse is in its result's cluster. Note: rule 2 also pulls a loss computed from the last
/// layer's output alone into that layer's box.
struct DotOptions {
  int precision = 4;             ///< digits after the decimal point of data and grad, 0 to 17
  bool show_grad = true;         ///< the grad field of each record
  bool color_by_grad = false;    ///< fill each value by log10 |grad|: vanishing gradients fade
  bool cluster_layers = true;    ///< group values labelled "<cluster>/<name>" (nn layers) in a box
  std::size_t max_nodes = 1000;  ///< more values than this: Error (a picture nobody can read)
};

/// Graphviz DOT text of everything `root` depends on, in micrograd's picture (draw_dot): a
/// record `{ label | data 2.0000 | grad 1.0000 }` per value (no label field when it has none),
/// an ellipse per op showing its name and constant ("* 2", "2 -" for 2 - x, "pow 3", "tanh"),
/// edges operand -> op -> result, left to right (an operand used twice has two edges). Values
/// are named n0, n1, ... in topological_order(root), op ellipses n<i>_op: the same graph gives
/// the same text, however it was built. Throws Error if options.precision is outside [0, 17]
/// or if the graph has more than options.max_nodes values.
std::string to_dot(const Value& root, const DotOptions& options = {});

/// Writes the picture of to_dot(root, options) to `path`, in the format its extension names
/// (.svg, .png, .pdf, in any case), through Graphviz's dot layout: its library when scalargrad
/// was built with it, else the `dot` program found on PATH (run directly, with no shell, the DOT
/// text on its standard input). The picture is written into a FileReplacement of `path`
/// (<scalargrad/file.hpp>: a new file beside it, renamed over it once complete). Throws Error
/// for another extension, when neither is available (saying to install graphviz), when Graphviz
/// fails (with its message or exit status), or when the file cannot be written ("scalargrad:
/// render: cannot write '<path>': " and FileReplacement's message); an older file at `path`
/// is then left as it was, and no new file is left.
void render(const Value& root, const std::filesystem::path& path, const DotOptions& options = {});

/// How render() draws on this installation: "libgvc" (built with Graphviz's library), "dot"
/// (the program, found on PATH now), or "" (neither: render() throws).
std::string render_backend();

}  // namespace scalargrad
