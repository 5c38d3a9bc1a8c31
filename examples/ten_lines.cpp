#include <cstdio>
#include <scalargrad/scalargrad.hpp>
using scalargrad::Value;

int main() {
  Value x = -4.0;                                  // a leaf
  Value z = 2 * x + 2 + x;                         // ordinary expressions record a graph
  Value y = (z * z).relu() + z.pow(2.0) / x.tanh();
  y.backward();                                    // dy/dv for every v that y depends on
  std::printf("y = %.4f, dy/dx = %.4f\n", y.data(), x.grad());
}
