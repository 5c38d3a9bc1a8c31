// Model files: an MLP's architecture and weights as JSON.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <scalargrad/nn/module.hpp>

namespace scalargrad::nn {

/// The model as JSON text: format name and version, nin, and per layer its size, activation
/// and weights (micrograd's parameter order), with full double precision. Throws Error naming
/// the parameter if one is NaN or infinite (JSON has no such numbers).
std::string to_json(const MLP& model);
/// The model read from to_json()'s text. Throws Error naming the problem (not JSON, missing
/// or wrong-typed field, wrong shape, NaN or infinite weight, unknown activation); `source`
/// names the text in messages (a file name).
MLP from_json(std::string_view text, std::string_view source = "<json>");

/// Writes to_json(model) through scalargrad::replace_file() (<scalargrad/file.hpp>: a temporary
/// file beside `path`, renamed over it; links followed, a device or FIFO written in place, a
/// folder refused): a crash never leaves a half-written model. Throws Error (to_json()'s, or
/// "scalargrad::nn: cannot save model to '<path>': " and the step that failed) and leaves the
/// file that was there untouched.
void save_model(const MLP& model, const std::filesystem::path& path);
/// Reads a model written by save_model(). A file of more than 256 MiB (or a device that gives
/// more, such as /dev/zero) is an Error, as is one that cannot be opened or read, naming it.
MLP load_model(const std::filesystem::path& path);
/// Reads the weights of a model file into `model`, whose architecture must be the file's (the
/// file read as by load_model()).
/// On any error, throws Error and leaves `model` untouched.
void load_weights(MLP& model, const std::filesystem::path& path);

}  // namespace scalargrad::nn
