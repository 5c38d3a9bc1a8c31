// Umbrella header of scalargrad::nn: parameters, layers, losses, optimizers, data, model files.
#pragma once

#include <scalargrad/nn/activation.hpp>
#include <scalargrad/nn/data.hpp>
#include <scalargrad/nn/diagnostics.hpp>
#include <scalargrad/nn/loss.hpp>
#include <scalargrad/nn/module.hpp>
#include <scalargrad/nn/optim.hpp>
#include <scalargrad/nn/parameter.hpp>
#include <scalargrad/nn/random.hpp>
#include <scalargrad/nn/serialize.hpp>
