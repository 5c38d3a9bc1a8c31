// _scalargrad: the compiled half of the Python package `scalargrad` (python/scalargrad/ re-exports
// it): micrograd's Python API on scalargrad's engine. Value with its operators; nn's Neuron, Layer,
// MLP, Parameter, losses, optimizers and data; to_dot, render, gradcheck. See docs/python.md.
//
// Note [Operand dispatch]
// Each arithmetic operator is one function that tests the other operand's type in the order a
// graph meets them (float, Value or Parameter, int, then anything whose float() is its value),
// rather than one registered overload per type, which pybind11 would try one after another, each
// failed attempt costing a conversion. An operand of any other type gives NotImplemented, so that
// Python tries the other operand's reflected method and, failing that, raises its own TypeError:
// "unsupported operand type(s) for +: 'Value' and 'str'".
//
// Note [Fast paths]
// Through pybind11 alone, `a + b` cost ~650 ns here (the engine's op ~30 ns of it): Python's
// generic slot wrapper, a bound method, pybind11's argument vector and dispatcher, and for the new
// object two hash lookups (the class's record by std::type_index, which hashes the type's name,
// and an existing object at the result's address). make_instance() makes new objects without the
// lookups (~460 ns), and the hottest entry points (the operators, Value(x), the ops without
// arguments, backward(), data and grad) are also C slots, method descriptors and getset
// descriptors, installed on the classes pybind11 made after it made them
// (install_fast_paths()): `a + b` then costs ~185 ns (docs/performance.md, section 10). They call
// the same functions as the pybind11 definitions, which stay (Value.__add__ is one, and Python
// subclasses of Value use them). make_instance(), value_init() and as_value() use pybind11's
// detail API (instance layout, register_instance) as class_::init_instance() does, as of
// pybind11 2.10 (Debian 12).
//
// Note [Parameters in Python]
// A model's weights are nn::Parameters inside the C++ model. model.parameters() returns one
// Python `Parameter` per weight: a Value (the weight's leaf, so that it works in every expression)
// that also points at the nn::Parameter, so that `p.data -= lr * p.grad` and `p.grad = 0` write
// through to the model. Each holds a reference to the Python object that owns the weight (the
// model, or a view of part of it), so the weight outlives it; an optimizer holds its Parameters.
//
// Note [Threads]
// The GIL stays held: every call runs on the calling Python thread, and a Value belongs to the
// thread that made it (the engine's rule), so a Value used on another Python thread raises
// scalargrad.Error. Each thread has its own tape.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <scalargrad/scalargrad.hpp>

namespace py = pybind11;
namespace sg = scalargrad;
namespace nn = scalargrad::nn;

namespace {

// ---- 1. The classes ---------------------------------------------------------------------------------

/// A Python `Parameter` (Note [Parameters in Python]): the leaf Value of an nn::Parameter, with
/// data and grad writing through to it.
struct ParameterRef : sg::Value {
  /// A weight of a model: `owner_object` is the Python object that keeps *p alive.
  ParameterRef(nn::Parameter* p, py::object owner_object)
      : sg::Value(p->value()), param(p), owner(std::move(owner_object)) {}
  /// A parameter of its own (scalargrad.nn.Parameter(0.5)), for modules written in Python.
  ParameterRef(nn::Parameter* p, std::unique_ptr<nn::Parameter> own)
      : sg::Value(p->value()), param(p), owned(std::move(own)) {}

  nn::Parameter* param;                  // the weight
  std::unique_ptr<nn::Parameter> owned;  // set when the Parameter is its own
  py::object owner;                      // keeps the model holding *param alive
};

// The Python classes of Value and Parameter and pybind11's records of them, set at import.
PyTypeObject* value_type = nullptr;
PyTypeObject* parameter_type = nullptr;
const py::detail::type_info* value_tinfo = nullptr;
const py::detail::type_info* parameter_tinfo = nullptr;

// ---- 2. Numbers and Values --------------------------------------------------------------------------

/// Python's repr of a float: "2.0", "0.1", "-inf", "nan".
std::string float_repr(double x) {
  char* text = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, nullptr);
  if (text == nullptr) throw py::error_already_set();
  std::string out(text);
  PyMem_Free(text);
  return out;
}

/// The name of an object's type, as Python's messages write it ('str', 'NoneType').
std::string type_name(py::handle h) { return Py_TYPE(h.ptr())->tp_name; }

/// `x` as a whole number from 0 to `max` (a count, a size, a seed). ValueError "<who>: <name>
/// must be a whole number from 0 to <max>, got <x>" otherwise: taken as a C++ unsigned type,
/// -1 or 2**64 got pybind11's "incompatible function arguments", which names neither.
std::uint64_t whole_number(const py::int_& x, const char* who, const char* name,
                           std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
  const unsigned long long value = PyLong_AsUnsignedLongLong(x.ptr());
  const bool failed = value == static_cast<unsigned long long>(-1) && PyErr_Occurred() != nullptr;
  if (failed) PyErr_Clear();
  if (failed || value > max) {
    const std::string top = max == std::numeric_limits<std::uint64_t>::max() ? "2**64 - 1" : std::to_string(max);
    throw py::value_error(std::string(who) + ": " + name + " must be a whole number from 0 to " + top + ", got " +
                          py::str(py::handle(x)).cast<std::string>());
  }
  return value;
}

/// whole_number() for a std::size_t.
std::size_t size_number(const py::int_& x, const char* who, const char* name) {
  return static_cast<std::size_t>(whole_number(x, who, name, std::numeric_limits<std::size_t>::max()));
}

/// `h` as a double if it is a number: float, int, bool, or a type whose float() is its value
/// (numpy scalars, Fraction, Decimal). Anything else, str included, is not (false). Errors of the
/// conversion itself (an int too large for a double) propagate.
bool as_number(py::handle h, double& out) {
  PyObject* o = h.ptr();
  if (PyFloat_Check(o)) {
    out = PyFloat_AS_DOUBLE(o);
    return true;
  }
  if (PyLong_Check(o)) {
    out = PyLong_AsDouble(o);
    if (out == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return true;
  }
  const PyNumberMethods* number = Py_TYPE(o)->tp_as_number;
  if (number == nullptr || (number->nb_float == nullptr && number->nb_index == nullptr)) return false;
  const double d = PyFloat_AsDouble(o);
  if (d == -1.0 && PyErr_Occurred()) {
    // A numpy array of several numbers, a complex: not a number here (Python then tries the
    // other operand's reflected method).
    if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
      PyErr_Clear();
      return false;
    }
    throw py::error_already_set();
  }
  out = d;
  return true;
}

// Note [Objects without __init__]
// `Value.__new__(Value)` makes a Python object that holds no C++ object: its __init__ never ran.
// (pybind11 refuses a Python subclass whose __init__ skips the base's when the object is made by
// calling the class; __new__ alone bypasses that check.) pybind11's own casters would then hand
// C++ fresh uninitialised memory (type_caster_generic::load_value() allocates it lazily, for
// constructors that build in place), so every read of a Value or Parameter goes through
// instance_value() or loaded(), which check that the holder was constructed first and raise
// TypeError otherwise; and no pybind11 signature here takes a Value or Parameter by type.
//
// Every other bound class (no_grad, detect_anomaly, GradcheckEntry, GradcheckReport, _Module,
// Neuron, Layer, MLP, Optimizer, SGD, Adam) is read only through pybind11's casters: `self` of a
// method or property, a typed argument (l2_penalty's model, dead_neurons'), self.cast<T&>(). In
// pybind11 2.10 each of those is type_caster<T>::load(), whose type_caster_generic::load_impl()
// reaches load_value() for an instance of T's class or of a subclass, and load_value() allocates
// when the value pointer is null, the state __new__ leaves. load_impl() and load_value() are not
// virtual, so the one place all calls pass through that we can hook is type_caster<T> itself:
// section 8 specialises it for each of these classes as InitialisedCaster<T>, pybind11's own
// caster behind require_initialised(), which raises the TypeError before load_impl() runs. So
// every binding, present and future, is checked, with no check in any lambda; a class bound
// later needs one line there (python/tests/test_uninitialised.py sweeps every bound class). An
// object is initialised when each of its C++ parts has a value and, if the instance owns it, a
// constructed holder: views such as model.layers[0] own nothing (reference_internal), so their
// holder is never constructed, yet they have a value. The error names type(obj).__name__.

/// An error message as a Python str. The engine's messages quote file names and file contents
/// as the bytes they are, which need not be UTF-8 (a file name from os.fsencode(), a model file
/// in Latin-1); PyErr_SetString() decodes strictly and, failing, would leave the message empty.
/// Bytes that are not UTF-8 are written as \xNN escapes instead.
py::str message_text(const char* what) {
  PyObject* text = PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "backslashreplace");
  if (text == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(text);
}

/// TypeError for an object whose __init__ never ran (Note [Objects without __init__]).
/// The type is named as type(h).__name__ gives it ('no_grad', not 'scalargrad._scalargrad.no_grad').
[[noreturn]] void throw_not_initialised(py::handle h) {
  const char* name = Py_TYPE(h.ptr())->tp_name;
  if (const char* dot = std::strrchr(name, '.')) name = dot + 1;
  std::string message = name;
  message += " object is not initialised: __init__ was not called";
  throw py::type_error(message);
}

/// The C++ object of a pybind11 instance of exactly one registered class (Value, Parameter), or
/// of a Python subclass of it; TypeError if its __init__ never ran.
template <typename T>
T* instance_value(py::handle h) {
  py::detail::value_and_holder v_h = reinterpret_cast<py::detail::instance*>(h.ptr())->get_value_and_holder();
  if (!v_h.holder_constructed()) throw_not_initialised(h);
  return v_h.value_ptr<T>();
}

/// The T inside `h` if it is an instance of T's class or of a Python subclass of it, else
/// nullptr; TypeError if its __init__ never ran.
template <typename T>
T* loaded(py::handle h) {
  if (!py::isinstance<T>(h)) return nullptr;
  instance_value<T>(h);  // throws before the caster could allocate (Note [Objects without __init__])
  py::detail::make_caster<T> caster;
  if (!caster.load(h, /*convert=*/false)) return nullptr;
  return static_cast<T*>(caster.value);
}

/// The Value inside `h` (a Value, a Parameter, or a Python subclass of either), or nullptr. The
/// exact classes are read directly (the hot path of every operator), a subclass through pybind11.
/// TypeError if h's __init__ never ran.
const sg::Value* as_value(py::handle h) {
  PyTypeObject* type = Py_TYPE(h.ptr());
  if (type == value_type) return instance_value<sg::Value>(h);
  if (type == parameter_type) return instance_value<ParameterRef>(h);
  if (value_type != nullptr && PyType_IsSubtype(type, value_type)) return loaded<sg::Value>(h);
  return nullptr;
}

/// The Value of `self`, a method's first argument.
sg::Value& value_of(py::handle self) {
  if (const sg::Value* v = as_value(self)) return const_cast<sg::Value&>(*v);
  std::string message = "expected a Value, got a '";
  message += type_name(self);
  message += "'";
  throw py::type_error(message);
}

/// The ParameterRef of `self`, a Parameter method's first argument.
ParameterRef& parameter_of(py::handle self) {
  if (Py_TYPE(self.ptr()) == parameter_type) return *instance_value<ParameterRef>(self);
  if (ParameterRef* p = loaded<ParameterRef>(self)) return *p;
  std::string message = "expected a Parameter, got a '";
  message += type_name(self);
  message += "'";
  throw py::type_error(message);
}

/// A double from a number; TypeError naming `who` otherwise.
double to_number(py::handle h, const char* who) {
  double d = 0.0;
  if (as_number(h, d)) return d;
  std::string message = who;
  message += " must be a number (float or int), not '";
  message += type_name(h);
  message += "'";
  throw py::type_error(message);
}

/// A Value from a number or a Value; TypeError naming `who` otherwise.
sg::Value to_value(py::handle h, const char* who) {
  if (const sg::Value* v = as_value(h)) return *v;
  double d = 0.0;
  if (as_number(h, d)) return sg::Value(d);
  std::string message = who;
  message += " must be a number or a Value, not '";
  message += type_name(h);
  message += "'";
  throw py::type_error(message);
}

/// Each item of `items` as a Value (to_value(item, who)): the list arguments of sum, dot, affine.
std::vector<sg::Value> to_values(py::iterable items, const char* who) {
  std::vector<sg::Value> values;
  for (py::handle item : items) values.push_back(to_value(item, who));
  return values;
}

/// Each item of `items`, which must be Values: the batches of the losses.
std::vector<sg::Value> values_of(py::iterable items, const char* who) {
  std::vector<sg::Value> values;
  for (py::handle item : items) {
    const sg::Value* v = as_value(item);
    if (v == nullptr) {
      std::string message = who;
      message += " must be Values, found a '";
      message += type_name(item);
      message += "'";
      throw py::type_error(message);
    }
    values.push_back(*v);
  }
  return values;
}

// ---- 3. New Python objects (Note [Fast paths]) ------------------------------------------------------

/// Constructs `value`'s holder in a new pybind11 instance and registers it: what
/// class_<T>::init_instance() does, without its lookup of the class's record.
template <typename T>
void adopt(py::detail::instance* instance, const py::detail::type_info* tinfo, std::unique_ptr<T> value) {
  py::detail::value_and_holder v_h = instance->get_value_and_holder(tinfo);
  T* raw = value.release();
  v_h.value_ptr() = raw;
  instance->owned = true;
  py::detail::register_instance(instance, raw, tinfo);
  v_h.set_instance_registered();
  new (std::addressof(v_h.holder<std::unique_ptr<T>>())) std::unique_ptr<T>(raw);
  v_h.set_holder_constructed();
}

/// A new Python object of class `type` owning `value`: py::cast(std::move(value)), minus its
/// two hash lookups.
template <typename T>
py::object make_instance(PyTypeObject* type, const py::detail::type_info* tinfo, std::unique_ptr<T> value) {
  auto object = py::reinterpret_steal<py::object>(py::detail::make_new_instance(type));
  adopt(reinterpret_cast<py::detail::instance*>(object.ptr()), tinfo, std::move(value));
  return object;
}

/// A new Python Value.
py::object box(sg::Value&& v) {
  return make_instance(value_type, value_tinfo, std::make_unique<sg::Value>(std::move(v)));
}

/// A new Python Parameter for a weight of the model held by `owner`.
py::object wrap_parameter(nn::Parameter* p, py::handle owner) {
  return make_instance(parameter_type, parameter_tinfo,
                       std::make_unique<ParameterRef>(p, py::reinterpret_borrow<py::object>(owner)));
}

py::list wrap_parameters(const std::vector<nn::Parameter*>& params, py::handle owner) {
  py::list out(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), wrap_parameter(params[i], owner).release().ptr());
  }
  return out;
}

/// The nn::Parameters of a list of Parameters, for an optimizer.
std::vector<nn::Parameter*> unwrap_parameters(const py::list& params, const char* who) {
  std::vector<nn::Parameter*> out;
  std::size_t i = 0;
  for (py::handle item : params) {
    const ParameterRef* p = loaded<ParameterRef>(item);
    if (p == nullptr) {
      std::string message = who;
      message += ": parameter ";
      message += std::to_string(i);
      message += " is a '";
      message += type_name(item);
      message += "', not a Parameter; optimizers update the Parameters of model.parameters() "
                 "(for a plain Value, write v.data -= lr * v.grad)";
      throw py::type_error(message);
    }
    out.push_back(p->param);
    ++i;
  }
  return out;
}

// ---- 4. Operators (Note [Operand dispatch]) ----------------------------------------------------------

/// One operand of an arithmetic operator.
struct Operand {
  enum class Kind { Number, Value, Other };
  Kind kind = Kind::Other;
  double number = 0.0;
  const sg::Value* value = nullptr;
};

Operand operand(py::handle h) {
  Operand op;
  if (PyFloat_CheckExact(h.ptr())) {  // the common cases first: x * 2.0, then x * y
    op.kind = Operand::Kind::Number;
    op.number = PyFloat_AS_DOUBLE(h.ptr());
  } else if ((op.value = as_value(h)) != nullptr) {
    op.kind = Operand::Kind::Value;
  } else if (as_number(h, op.number)) {
    op.kind = Operand::Kind::Number;
  }
  return op;
}

struct Add {
  template <typename A, typename B>
  sg::Value operator()(const A& a, const B& b) const { return a + b; }
};
struct Sub {
  template <typename A, typename B>
  sg::Value operator()(const A& a, const B& b) const { return a - b; }
};
struct Mul {
  template <typename A, typename B>
  sg::Value operator()(const A& a, const B& b) const { return a * b; }
};
struct Div {
  template <typename A, typename B>
  sg::Value operator()(const A& a, const B& b) const { return a / b; }
};
struct Pow {
  template <typename A, typename B>
  sg::Value operator()(const A& a, const B& b) const { return sg::pow(a, b); }
};

/// self op other (Value.__add__ & co.); NotImplemented for another type of operand.
template <typename Op>
py::object binary(const sg::Value& self, py::handle other) {
  const Operand y = operand(other);
  switch (y.kind) {
    case Operand::Kind::Number: return box(Op{}(self, y.number));
    case Operand::Kind::Value: return box(Op{}(self, *y.value));
    case Operand::Kind::Other: break;
  }
  return py::reinterpret_borrow<py::object>(Py_NotImplemented);
}

/// other op self (Value.__radd__ & co.).
template <typename Op>
py::object reflected(const sg::Value& self, py::handle other) {
  const Operand x = operand(other);
  switch (x.kind) {
    case Operand::Kind::Number: return box(Op{}(x.number, self));
    case Operand::Kind::Value: return box(Op{}(*x.value, self));
    case Operand::Kind::Other: break;
  }
  return py::reinterpret_borrow<py::object>(Py_NotImplemented);
}

/// A method computing a Value from `self` alone: x.detach(), abs(x).
template <sg::Value (sg::Value::*op)() const>
py::object unary(py::handle self) {
  return box((value_of(self).*op)());
}

/// Value.grad = g: 0 zeroes any Value's gradient; a leaf's can be set to any number, inside
/// no_grad() and detect_anomaly() too (Value::set_grad).
void assign_grad(sg::Value& v, double grad) { v.set_grad(grad); }

std::string value_repr(const sg::Value& v) {
  std::string text = "Value(data=";
  text += float_repr(v.data());
  text += ", grad=";
  text += float_repr(v.grad());
  text += ")";
  return text;
}

// ---- 5. C entry points (Note [Fast paths]) ------------------------------------------------------------

/// Sets the Python error for the C++ exception being handled, through pybind11's translators
/// (scalargrad.Error, TypeError, ...) as pybind11's dispatcher does; returns nullptr.
PyObject* raise_current() noexcept {
  try {
    if (py::detail::apply_exception_translators(py::detail::get_local_internals().registered_exception_translators)) {
      return nullptr;
    }
    if (py::detail::apply_exception_translators(py::detail::get_internals().registered_exception_translators)) {
      return nullptr;
    }
  } catch (...) {
  }
  PyErr_SetString(PyExc_SystemError, "scalargrad: an exception escaped the exception translators");
  return nullptr;
}

/// nb_add & co. Python calls the slot of the left operand's class with (a, b) and, if that gives
/// NotImplemented, the right one's, also with (a, b): either may be the Value.
template <typename Op>
PyObject* nb_binary(PyObject* a, PyObject* b) noexcept {
  try {
    if (const sg::Value* x = as_value(a)) return binary<Op>(*x, b).release().ptr();
    if (const sg::Value* y = as_value(b)) return reflected<Op>(*y, a).release().ptr();
    Py_RETURN_NOTIMPLEMENTED;
  } catch (...) {
    return raise_current();
  }
}

PyObject* nb_power(PyObject* a, PyObject* b, PyObject* modulus) noexcept {
  if (modulus != Py_None) Py_RETURN_NOTIMPLEMENTED;  // pow(x, y, m) is for integers
  return nb_binary<Pow>(a, b);
}

template <sg::Value (*op)(const sg::Value&)>
PyObject* nb_unary(PyObject* a) noexcept {
  try {
    return box(op(value_of(a))).release().ptr();
  } catch (...) {
    return raise_current();
  }
}

sg::Value negative(const sg::Value& x) { return -x; }
sg::Value positive(const sg::Value& x) { return x; }
sg::Value absolute(const sg::Value& x) { return x.abs(); }

template <sg::Value (sg::Value::*op)() const>
PyObject* method_noargs(PyObject* self, PyObject* /*unused*/) noexcept {
  try {
    return box((value_of(self).*op)()).release().ptr();
  } catch (...) {
    return raise_current();
  }
}

PyObject* method_backward(PyObject* self, PyObject* /*unused*/) noexcept {
  try {
    value_of(self).backward();
    Py_RETURN_NONE;
  } catch (...) {
    return raise_current();
  }
}

// data and grad of Value and of Parameter.
template <double (*get)(py::handle)>
PyObject* getter(PyObject* self, void* /*unused*/) noexcept {
  try {
    return PyFloat_FromDouble(get(self));
  } catch (...) {
    return raise_current();
  }
}

template <void (*set)(py::handle, py::handle)>
int setter(PyObject* self, PyObject* value, void* /*unused*/) noexcept {
  try {
    if (value == nullptr) throw py::type_error("data and grad cannot be deleted");
    set(self, value);
    return 0;
  } catch (...) {
    raise_current();
    return -1;
  }
}

double value_data(py::handle self) { return value_of(self).data(); }
double value_grad(py::handle self) { return value_of(self).grad(); }
void set_value_data(py::handle self, py::handle d) { value_of(self).set_data(to_number(d, "Value.data")); }
void set_value_grad(py::handle self, py::handle g) { assign_grad(value_of(self), to_number(g, "Value.grad")); }
double parameter_data(py::handle self) { return parameter_of(self).param->data; }
double parameter_grad(py::handle self) { return parameter_of(self).param->grad; }
void set_parameter_data(py::handle self, py::handle d) { parameter_of(self).param->data = to_number(d, "Parameter.data"); }
void set_parameter_grad(py::handle self, py::handle g) { parameter_of(self).param->grad = to_number(g, "Parameter.grad"); }

// Value(data): here; every other form (keywords, micrograd's _children) by pybind11's __init__,
// reached through Python's slot_tp_init.
initproc pybind11_value_init = nullptr;

int value_init(PyObject* self, PyObject* args, PyObject* kwargs) noexcept {
  if (Py_TYPE(self) != value_type || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) ||
      PyTuple_GET_SIZE(args) != 1) {
    return pybind11_value_init(self, args, kwargs);
  }
  try {
    auto* instance = reinterpret_cast<py::detail::instance*>(self);
    if (instance->get_value_and_holder(value_tinfo).holder_constructed()) {
      return pybind11_value_init(self, args, kwargs);  // __init__ called again: pybind11's answer
    }
    adopt(instance, value_tinfo, std::make_unique<sg::Value>(to_number(PyTuple_GET_ITEM(args, 0), "Value(data): data")));
    return 0;
  } catch (...) {
    raise_current();
    return -1;
  }
}

// Note [Value.__init__ on a Parameter]: Parameter is a pybind11 subclass of Value, so Python
// lets `Value.__init__(p, 1.0)` through for a Parameter p (or for an instance of a Python
// subclass of Parameter whose __init__ calls Value's). pybind11 2.10 then looks for p's Value
// part before its dispatcher's try block, does not find it (a Parameter's part is registered
// under its own type), and the exception it throws ends the process. (A pybind11 function
// named __init__ is a constructor to pybind11, with the same lookup, so the check cannot be
// one.) Value.__init__ is this C method, which raises TypeError for a Parameter and passes
// everything else to pybind11's __init__.
PyObject* pybind11_value_init_method = nullptr;  // pybind11's Value.__init__ (a reference kept)

PyObject* value_init_method(PyObject* self, PyObject* args, PyObject* kwargs) noexcept {
  if (PyObject_TypeCheck(self, parameter_type)) {
    PyErr_SetString(PyExc_TypeError,
                    "Value.__init__() cannot initialise a Parameter: call Parameter.__init__() (from a subclass of "
                    "Parameter, super().__init__())");
    return nullptr;
  }
  PyObject* bound = PyMethod_New(pybind11_value_init_method, self);  // self goes first
  if (bound == nullptr) return nullptr;
  PyObject* result = PyObject_Call(bound, args, kwargs);
  Py_DECREF(bound);
  return result;
}

void install_descriptors(py::handle cls, std::span<PyGetSetDef> properties) {
  for (PyGetSetDef& def : properties) {
    const auto descriptor =
        py::reinterpret_steal<py::object>(PyDescr_NewGetSet(reinterpret_cast<PyTypeObject*>(cls.ptr()), &def));
    if (!descriptor) throw py::error_already_set();
    cls.attr(def.name) = descriptor;
  }
}

/// Installs the C entry points on Value's class and Parameter's.
void install_fast_paths(py::handle value_class, py::handle parameter_class) {
  for (py::handle cls : {value_class, parameter_class}) {
    PyNumberMethods* number = reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_as_number;
    number->nb_add = &nb_binary<Add>;
    number->nb_subtract = &nb_binary<Sub>;
    number->nb_multiply = &nb_binary<Mul>;
    number->nb_true_divide = &nb_binary<Div>;
    number->nb_power = &nb_power;
    number->nb_negative = &nb_unary<&negative>;
    number->nb_positive = &nb_unary<&positive>;
    number->nb_absolute = &nb_unary<&absolute>;
  }
  auto* value_class_object = reinterpret_cast<PyTypeObject*>(value_class.ptr());
  // Value.__init__ checks its self first (Note [Value.__init__ on a Parameter]). Set before
  // tp_init is read: setting __init__ makes tp_init the slot that looks __init__ up.
  static PyMethodDef init_def = {
      "__init__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&value_init_method)),
      METH_VARARGS | METH_KEYWORDS,
      "__init__(self, data, _children=(), _op='', label='')\n--\n\n"
      "A leaf holding data. _children and _op are accepted for micrograd's signature and ignored: ops record "
      "their operands themselves."};
  pybind11_value_init_method = py::object(value_class.attr("__init__")).release().ptr();
  {
    const auto descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(value_class_object, &init_def));
    if (!descriptor) throw py::error_already_set();
    value_class.attr("__init__") = descriptor;
  }
  pybind11_value_init = value_class_object->tp_init;
  value_class_object->tp_init = &value_init;

  // Descriptors keep a pointer to their definition: static storage. Parameter inherits the methods.
  static PyMethodDef methods[] = {
      {"relu", &method_noargs<&sg::Value::relu>, METH_NOARGS, "max(x, 0); d/dx = 1 for x > 0, else 0."},
      {"tanh", &method_noargs<&sg::Value::tanh>, METH_NOARGS, "tanh x; d/dx = 1 - tanh^2 x."},
      {"sigmoid", &method_noargs<&sg::Value::sigmoid>, METH_NOARGS, "1/(1 + e^-x); d/dx = s(1 - s)."},
      {"exp", &method_noargs<&sg::Value::exp>, METH_NOARGS, "e^x; d/dx = e^x."},
      {"log", &method_noargs<&sg::Value::log>, METH_NOARGS, "ln x; d/dx = 1/x (log(0) = -inf, log(-1) = nan)."},
      {"sqrt", &method_noargs<&sg::Value::sqrt>, METH_NOARGS, "sqrt x; d/dx = 1/(2 sqrt x)."},
      {"abs", &method_noargs<&sg::Value::abs>, METH_NOARGS, "|x|; d/dx = sign(x), 0 at 0."},
      {"gelu", &method_noargs<&sg::Value::gelu>, METH_NOARGS, "x Phi(x) (erf form)."},
      {"silu", &method_noargs<&sg::Value::silu>, METH_NOARGS, "x sigmoid(x)."},
      {"softplus", &method_noargs<&sg::Value::softplus>, METH_NOARGS, "ln(1 + e^x)."},
      {"backward", &method_backward, METH_NOARGS,
       "Fills grad of every Value this one depends on (leaves accumulate, op results are overwritten)."},
  };
  for (PyMethodDef& def : methods) {
    const auto descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(value_class_object, &def));
    if (!descriptor) throw py::error_already_set();
    value_class.attr(def.ml_name) = descriptor;
  }
  static PyGetSetDef value_properties[] = {
      {"data", &getter<&value_data>, &setter<&set_value_data>,
       "The value. Only a leaf's data can be set: an op result's is fixed by its inputs.", nullptr},
      {"grad", &getter<&value_grad>, &setter<&set_value_grad>,
       "d(root)/d(this) from the last backward(); leaves accumulate over backward() calls. Set it to 0 to "
       "zero it (a leaf's to any number).",
       nullptr},
  };
  static PyGetSetDef parameter_properties[] = {
      {"data", &getter<&parameter_data>, &setter<&set_parameter_data>, "The weight.", nullptr},
      {"grad", &getter<&parameter_grad>, &setter<&set_parameter_grad>,
       "d(root)/d(weight), accumulated by backward() until zeroed.", nullptr},
  };
  install_descriptors(value_class, value_properties);
  install_descriptors(parameter_class, parameter_properties);
  PyType_Modified(value_class_object);
  PyType_Modified(reinterpret_cast<PyTypeObject*>(parameter_class.ptr()));
}

// ---- 6. Models -------------------------------------------------------------------------------------------

/// A model's input: numbers (the forward pass then runs on doubles, all in C++), or Values.
struct Inputs {
  std::vector<double> numbers;
  std::vector<sg::Value> values;
  bool all_numbers = true;
};

/// x's numbers or Values; `who`(`param`) names the call in errors, `arg` the argument (x, or
/// points[3] for one point of MLP.scores(points)).
Inputs read_inputs(py::handle x, const char* who, const char* param = "x", const std::string& arg = "x") {
  PyObject* seq = PySequence_Fast(x.ptr(), "");
  if (seq == nullptr) {
    PyErr_Clear();
    std::string message = who;
    message += "(";
    message += param;
    message += "): ";
    message += arg;
    message += " must be a list of numbers or Values, not '";
    message += type_name(x);
    message += "'";
    throw py::type_error(message);
  }
  const auto owner = py::reinterpret_steal<py::object>(seq);
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  PyObject** items = PySequence_Fast_ITEMS(seq);
  Inputs in;
  in.numbers.reserve(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    const py::handle item(items[i]);
    double d = 0.0;
    if (in.all_numbers && as_number(item, d)) {
      in.numbers.push_back(d);
      continue;
    }
    if (in.all_numbers) {  // the first Value: the numbers so far become leaves
      in.all_numbers = false;
      in.values.reserve(static_cast<std::size_t>(n));
      for (const double number : in.numbers) in.values.emplace_back(number);
    }
    if (const sg::Value* v = as_value(item)) {
      in.values.push_back(*v);
    } else if (as_number(item, d)) {
      in.values.emplace_back(d);
    } else {
      std::string message = who;
      message += "(";
      message += param;
      message += "): ";
      message += arg;
      message += "[";
      message += std::to_string(i);
      message += "] is a '";
      message += type_name(item);
      message += "'; inputs must be numbers or Values";
      throw py::type_error(message);
    }
  }
  return in;
}

/// micrograd's convention: a layer or network with one output returns it, else a list.
/// The Values as a Python list.
py::list boxed_list(std::vector<sg::Value>&& values) {
  py::list list(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    PyList_SET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i), box(std::move(values[i])).release().ptr());
  }
  return list;
}

py::object outputs(std::vector<sg::Value>&& out) {
  if (out.size() == 1) return box(std::move(out.front()));
  return boxed_list(std::move(out));
}

/// MLP.scores(points): one batch (nn::MLP::scores), with numbers only or with Values.
py::list model_scores(const nn::MLP& model, py::handle points) {
  PyObject* seq = PySequence_Fast(points.ptr(), "");
  if (seq == nullptr) {
    PyErr_Clear();
    std::string message = "MLP.scores(points): points must be a list of points (each a list of numbers or Values), "
                          "not '";
    message += type_name(points);
    message += "'";
    throw py::type_error(message);
  }
  const auto owner = py::reinterpret_steal<py::object>(seq);
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  PyObject** items = PySequence_Fast_ITEMS(seq);
  std::vector<Inputs> in;
  in.reserve(static_cast<std::size_t>(n));
  bool all_numbers = true;
  for (Py_ssize_t p = 0; p < n; ++p) {
    in.push_back(read_inputs(items[p], "MLP.scores", "points", "points[" + std::to_string(p) + "]"));
    all_numbers = all_numbers && in.back().all_numbers;
  }
  std::vector<sg::Value> scores;
  if (all_numbers) {
    std::vector<std::vector<double>> numbers;
    numbers.reserve(in.size());
    for (Inputs& point : in) numbers.push_back(std::move(point.numbers));
    scores = model.scores(numbers);
  } else {
    std::vector<std::vector<sg::Value>> values;
    values.reserve(in.size());
    for (Inputs& point : in) {
      if (point.all_numbers) point.values.assign(point.numbers.begin(), point.numbers.end());
      values.push_back(std::move(point.values));
    }
    scores = model.scores(values);
  }
  return boxed_list(std::move(scores));
}

template <typename Model>
py::object call_model(const Model& model, py::handle x, const char* who) {
  const Inputs in = read_inputs(x, who);
  if (in.all_numbers) return outputs(model(std::span<const double>(in.numbers)));
  return outputs(model(std::span<const sg::Value>(in.values)));
}

/// The activation of a neuron or layer from micrograd's nonlin flag or an activation name.
nn::Activation activation_of(bool nonlin, const std::optional<std::string>& activation) {
  if (activation) return nn::Activation::parse(*activation);
  return nonlin ? nn::Activation::relu() : nn::Activation::linear();
}

/// The activations of an MLP's layers: a name for the hidden layers (the output layer gets
/// `output`, linear by default), or a list of one name per layer.
std::vector<nn::Activation> mlp_activations(std::size_t layers, py::handle activation, py::handle output) {
  std::vector<nn::Activation> out;
  if (!output.is_none() && !py::isinstance<py::str>(output)) {
    std::string message = "MLP: output_activation must be an activation name such as 'sigmoid' (or None: linear), "
                          "not '";
    message += type_name(output);
    message += "'";
    throw py::type_error(message);
  }
  if (py::isinstance<py::str>(activation)) {
    out.assign(layers, nn::Activation::parse(activation.cast<std::string>()));
    if (!out.empty()) {
      out.back() = output.is_none() ? nn::Activation::linear() : nn::Activation::parse(output.cast<std::string>());
    }
    return out;
  }
  if (!py::isinstance<py::iterable>(activation)) {
    std::string message = "MLP: activation must be an activation name such as 'relu', or a list of names, one per "
                          "layer, not '";
    message += type_name(activation);
    message += "'";
    throw py::type_error(message);
  }
  if (!output.is_none()) {
    throw py::type_error("MLP: output_activation goes with a single activation name; a list of activations "
                         "names every layer's, the output layer's last");
  }
  for (py::handle name : py::iter(activation)) {
    if (!py::isinstance<py::str>(name)) {
      std::string message = "MLP: activation must be an activation name such as 'relu', or a list of names, one "
                            "per layer; the list holds a '";
      message += type_name(name);
      message += "'";
      throw py::type_error(message);
    }
    out.push_back(nn::Activation::parse(name.cast<std::string>()));
  }
  return out;
}

/// A file's path from a str, bytes or an os.PathLike (pathlib.Path), as os.fspath() reads it, as
/// render() takes it; TypeError naming `who` otherwise. A str is encoded as os.fsencode() does
/// (the file system encoding with surrogateescape), so that a name os.listdir() gave for bytes
/// that are not UTF-8 ('\udcff.json') names that file again.
std::filesystem::path file_path(py::handle path, const char* who) {
  const auto text = py::reinterpret_steal<py::object>(PyOS_FSPath(path.ptr()));
  if (!text) {  // os.fspath() gives str or bytes; its TypeError becomes ours, naming the call
    if (!PyErr_ExceptionMatches(PyExc_TypeError)) throw py::error_already_set();
    PyErr_Clear();
    std::string message = who;
    message += ": path must be a str or os.PathLike (pathlib.Path), not '";
    message += type_name(path);
    message += "'";
    throw py::type_error(message);
  }
  std::string name;
  if (PyUnicode_Check(text.ptr())) {
    const auto bytes = py::reinterpret_steal<py::object>(PyUnicode_EncodeFSDefault(text.ptr()));
    if (!bytes) throw py::error_already_set();
    name = bytes.cast<std::string>();
  } else {
    name = text.cast<std::string>();  // bytes
  }
  // The system would cut the name there ("a\0b.json" names "a"): refused, as open() does.
  if (name.find('\0') != std::string::npos) throw py::value_error(std::string(who) + ": embedded null byte in the path");
  return std::filesystem::path(name);
}

/// The items of any iterable, in a new list. TypeError "<who>: <name> must be <what>, not 'int'"
/// for anything else (Python's own "'int' object is not iterable" names no call).
py::list to_list(py::handle items, const char* who, const char* name, const char* what) {
  if (!py::isinstance<py::iterable>(items)) {
    throw py::type_error(std::string(who) + ": " + name + " must be " + what + ", not '" + type_name(items) + "'");
  }
  py::list out;
  for (py::handle item : py::iter(items)) out.append(item);
  return out;
}

/// An optimizer that also holds the Python Parameters it updates (and so their models).
template <typename Base>
struct KeepingOptimizer : Base {
  template <typename... Args>
  explicit KeepingOptimizer(py::list kept, Args&&... args) : Base(std::forward<Args>(args)...), keep(std::move(kept)) {}
  py::list keep;
};

// ---- 7. The rest --------------------------------------------------------------------------------------------

/// A guard (NoGradGuard, AnomalyGuard) as a context manager.
template <typename Guard>
struct GuardContext {
  std::optional<Guard> guard;
  void enter() {
    if (guard) throw sg::Error("scalargrad: this guard is already active; make a new one for a nested with-block");
    guard.emplace();
  }
  void exit() { guard.reset(); }
};

sg::DotOptions dot_options(int precision, bool show_grad, bool color_by_grad, bool cluster_layers,
                           std::size_t max_nodes) {
  sg::DotOptions options;
  options.precision = precision;
  options.show_grad = show_grad;
  options.color_by_grad = color_by_grad;
  options.cluster_layers = cluster_layers;
  options.max_nodes = max_nodes;
  return options;
}

/// Gives a class its public module (`scalargrad.Value`, not `scalargrad._scalargrad.Value`) and
/// its bare name in tp_name, as a class written in Python has, for Python's messages ("... for +:
/// 'Value' and 'str'"). tp_name points into the string pybind11 allocated for it, never freed.
void set_public_name(py::handle cls, const char* module) {
  cls.attr("__module__") = module;
  auto* type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  if (const char* dot = std::strrchr(type->tp_name, '.')) type->tp_name = dot + 1;
}

// ---- 8. Casters that refuse objects without __init__ (Note [Objects without __init__]) ------------

/// TypeError if `src` is an instance of the class `tinfo` records (or of a subclass) whose
/// __init__ never ran: a part without a value, or an owned part without a holder.
void require_initialised(py::handle src, const py::detail::type_info* tinfo) {
  if (tinfo == nullptr || !PyObject_TypeCheck(src.ptr(), tinfo->type)) return;  // pybind11 says what is wrong
  auto* inst = reinterpret_cast<py::detail::instance*>(src.ptr());
  for (const py::detail::value_and_holder& v_h : py::detail::values_and_holders(inst)) {
    if (v_h.value_ptr() == nullptr || (inst->owned && !v_h.holder_constructed())) throw_not_initialised(src);
  }
}

/// pybind11's caster of a bound class T, checking first that the object's __init__ ran.
template <typename T>
class InitialisedCaster : public py::detail::type_caster_base<T> {
 public:
  bool load(py::handle src, bool convert) {
    require_initialised(src, this->typeinfo);  // T's record, which pybind11's constructor looked up
    return py::detail::type_caster_base<T>::load(src, convert);
  }
};

}  // namespace

// Every class bound below but Value and Parameter (Note [Objects without __init__]).
#define SCALARGRAD_INITIALISED_CASTER(...) \
  template <>                              \
  class type_caster<__VA_ARGS__> : public InitialisedCaster<__VA_ARGS__> {}
namespace pybind11::detail {
SCALARGRAD_INITIALISED_CASTER(GuardContext<sg::NoGradGuard>);
SCALARGRAD_INITIALISED_CASTER(GuardContext<sg::AnomalyGuard>);
SCALARGRAD_INITIALISED_CASTER(sg::GradcheckEntry);
SCALARGRAD_INITIALISED_CASTER(sg::GradcheckReport);
SCALARGRAD_INITIALISED_CASTER(nn::Module);
SCALARGRAD_INITIALISED_CASTER(nn::Neuron);
SCALARGRAD_INITIALISED_CASTER(nn::Layer);
SCALARGRAD_INITIALISED_CASTER(nn::MLP);
SCALARGRAD_INITIALISED_CASTER(nn::Optimizer);
SCALARGRAD_INITIALISED_CASTER(KeepingOptimizer<nn::SGD>);
SCALARGRAD_INITIALISED_CASTER(KeepingOptimizer<nn::Adam>);
}  // namespace pybind11::detail
#undef SCALARGRAD_INITIALISED_CASTER

PYBIND11_MODULE(_scalargrad, m) {
  m.doc() = "scalargrad's engine and nn layer (compiled); import scalargrad instead";
  m.attr("__version__") = SCALARGRAD_VERSION_STRING;

  // ---- Errors ------------------------------------------------------------------------------------
  static py::exception<sg::Error> error(m, "Error", PyExc_RuntimeError);
  error.doc() = "Misuse of scalargrad (the message says what to do); a RuntimeError.";
  static py::exception<sg::AnomalyError> anomaly_error(m, "AnomalyError", error.ptr());
  anomaly_error.doc() = "The first op whose value or gradient is NaN or infinite, under detect_anomaly(), or "
                        "the value whose gradient, summed over its uses, is; the op's name is in .op.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const sg::AnomalyError& e) {
      const py::object exc = py::reinterpret_borrow<py::object>(anomaly_error.ptr())(message_text(e.what()));
      exc.attr("op") = e.op();
      PyErr_SetObject(anomaly_error.ptr(), exc.ptr());
    } catch (const sg::Error& e) {
      PyErr_SetObject(error.ptr(), message_text(e.what()).ptr());
    }
  });

  // ---- Value -------------------------------------------------------------------------------------
  // Every method takes `self` as a handle and reads it with value_of(); data, grad, backward()
  // and the ops without arguments are C entry points (install_fast_paths(), at the end).
  py::class_<sg::Value> value(m, "Value",
                              "A scalar that records the computation that made it (micrograd's Value).");
  value
      .def(py::init([](py::handle data, py::handle /*children*/, py::handle /*op*/, const std::string& label) {
             sg::Value v(to_number(data, "Value(data): data"));
             if (!label.empty()) v.label(label);
             return v;
           }),
           py::arg("data"), py::arg("_children") = py::tuple(), py::arg("_op") = "", py::arg("label") = "",
           "A leaf holding data. _children and _op are accepted for micrograd's signature and ignored: "
           "ops record their operands themselves.")
      .def_property(
          "label", [](py::handle self) { return value_of(self).label(); },
          [](py::handle self, py::handle name) {
            if (!PyUnicode_Check(name.ptr())) {
              throw py::type_error("Value.label must be a str, not '" + type_name(name) + "'");
            }
            Py_ssize_t size = 0;
            const char* text = PyUnicode_AsUTF8AndSize(name.ptr(), &size);
            if (text == nullptr) {  // lone surrogates (os.fsdecode() of bytes that are not UTF-8)
              PyErr_Clear();
              throw py::value_error("Value.label must be text that UTF-8 can encode, not " +
                                    py::repr(name).cast<std::string>());
            }
            value_of(self).label(std::string_view(text, static_cast<std::size_t>(size)));
          },
          "The name shown in graphs (to_dot).")
      .def_property_readonly("_op", [](py::handle self) { return std::string(value_of(self).op()); },
                             "The op that made this Value ('+', '*', 'relu', ...), '' for a leaf, 'input' for an input "
                             "that MLP.scores() took as a number.")
      .def_property_readonly(
          "_prev",
          [](py::handle self) {
            py::set out;
            for (sg::Value& operand : value_of(self).operands()) out.add(box(std::move(operand)));
            return out;
          },
          "The Values this one was computed from (new Python objects each time).")
      .def_property_readonly("is_leaf", [](py::handle self) { return value_of(self).is_leaf(); },
                             "True for a Value made from a number.")
      .def(
          "operands",
          [](py::handle self) {
            py::list out;
            for (sg::Value& operand : value_of(self).operands()) out.append(box(std::move(operand)));
            return out;
          },
          "The Values this one was computed from, in operand order.")
      .def_property_readonly("constant", [](py::handle self) { return value_of(self).constant(); },
                             "The constant operand of an op such as x * 2.0 (or a slope), else None.")
      .def("zero_grad", [](py::handle self) { value_of(self).zero_grad(); }, "Sets grad to 0.")
      .def("detach", &unary<&sg::Value::detach>, "A new leaf with the same data.")
      .def("__repr__", [](py::handle self) { return value_repr(value_of(self)); })
      .def("__add__", [](py::handle x, py::handle y) { return binary<Add>(value_of(x), y); })
      .def("__radd__", [](py::handle x, py::handle y) { return reflected<Add>(value_of(x), y); })
      .def("__sub__", [](py::handle x, py::handle y) { return binary<Sub>(value_of(x), y); })
      .def("__rsub__", [](py::handle x, py::handle y) { return reflected<Sub>(value_of(x), y); })
      .def("__mul__", [](py::handle x, py::handle y) { return binary<Mul>(value_of(x), y); })
      .def("__rmul__", [](py::handle x, py::handle y) { return reflected<Mul>(value_of(x), y); })
      .def("__truediv__", [](py::handle x, py::handle y) { return binary<Div>(value_of(x), y); })
      .def("__rtruediv__", [](py::handle x, py::handle y) { return reflected<Div>(value_of(x), y); })
      .def("__pow__", [](py::handle x, py::handle y) { return binary<Pow>(value_of(x), y); })
      .def("__rpow__", [](py::handle x, py::handle y) { return reflected<Pow>(value_of(x), y); })
      .def("__neg__", [](py::handle x) { return box(-value_of(x)); })
      .def("__pos__", [](py::handle x) { return box(sg::Value(value_of(x))); })
      .def("__abs__", &unary<&sg::Value::abs>)
      .def(
          "pow",
          [](py::handle self, py::handle exponent) {
            const sg::Value& x = value_of(self);
            if (const sg::Value* e = as_value(exponent)) return box(x.pow(*e));
            return box(x.pow(to_number(exponent, "pow: the exponent")));
          },
          py::arg("exponent"), "x ** exponent (a number or a Value).")
      .def("leaky_relu", [](py::handle self, double slope) { return box(value_of(self).leaky_relu(slope)); },
           py::arg("slope") = 0.01, "x for x > 0, slope x otherwise; d/dx = 1 or slope (slope at 0).")
      .def("elu", [](py::handle self, double alpha) { return box(value_of(self).elu(alpha)); }, py::arg("alpha") = 1.0,
           "x for x > 0, alpha (e^x - 1) otherwise.");
  value_type = reinterpret_cast<PyTypeObject*>(value.ptr());
  value_tinfo = py::detail::get_type_info(typeid(sg::Value));

  // ---- Engine functions --------------------------------------------------------------------------
  m.def(
      "sum",
      [](py::iterable xs) { return sg::sum(to_values(xs, "sum: each item")); },
      py::arg("values"), "x_1 + ... + x_n as one node of the graph (the empty sum is 0).");
  m.def(
      "dot",
      [](py::iterable a, py::iterable b) {
        return sg::dot(to_values(a, "dot: each item"), to_values(b, "dot: each item"));
      },
      py::arg("a"), py::arg("b"), "a_1 b_1 + ... + a_n b_n as one node of the graph.");
  m.def(
      "affine",
      [](py::iterable w, py::iterable x, py::handle b) {
        return sg::affine(to_values(w, "affine: each item"), to_values(x, "affine: each item"),
                          to_value(b, "affine: the bias"));
      },
      py::arg("w"), py::arg("x"), py::arg("b"),
      "w_1 x_1 + ... + w_n x_n + b as one node of the graph (a neuron's weighted sum and bias); "
      "its value is that of dot(w, x) + b.");
  m.def("topological_order", [](py::handle root) { return sg::topological_order(value_of(root)); }, py::arg("root"),
        "Every Value root depends on, each after its operands, root last.");
  m.def(
      "to_dot",
      [](py::handle root, int precision, bool show_grad, bool color_by_grad, bool cluster_layers,
         const py::int_& max_nodes) {
        return sg::to_dot(value_of(root), dot_options(precision, show_grad, color_by_grad, cluster_layers,
                                                      size_number(max_nodes, "to_dot", "max_nodes")));
      },
      py::arg("root"), py::kw_only(), py::arg("precision") = 4, py::arg("show_grad") = true,
      py::arg("color_by_grad") = false, py::arg("cluster_layers") = true, py::arg("max_nodes") = 1000,
      "Graphviz DOT text of root's graph, in micrograd's picture.");
  m.def(
      "_render_file",
      [](py::handle root, py::handle path, int precision, bool show_grad, bool color_by_grad, bool cluster_layers,
         const py::int_& max_nodes) {
        sg::render(value_of(root), file_path(path, "render"),
                   dot_options(precision, show_grad, color_by_grad, cluster_layers,
                               size_number(max_nodes, "render", "max_nodes")));
      },
      py::arg("root"), py::arg("path"), py::kw_only(), py::arg("precision") = 4, py::arg("show_grad") = true,
      py::arg("color_by_grad") = false, py::arg("cluster_layers") = true, py::arg("max_nodes") = 1000);
  m.def("render_backend", &sg::render_backend,
        "How render() draws here: 'libgvc', 'dot' (the program), or '' (it cannot).");

  py::class_<sg::GradcheckEntry>(m, "GradcheckEntry", "One input of a gradcheck.")
      .def_readonly("name", &sg::GradcheckEntry::name)
      .def_readonly("input", &sg::GradcheckEntry::input)
      .def_readonly("analytic", &sg::GradcheckEntry::analytic)
      .def_readonly("numeric", &sg::GradcheckEntry::numeric)
      .def_readonly("abs_error", &sg::GradcheckEntry::abs_error)
      .def_readonly("rel_error", &sg::GradcheckEntry::rel_error)
      .def_readonly("passed", &sg::GradcheckEntry::passed)
      .def("__repr__", [](const sg::GradcheckEntry& e) {
        std::string text = "GradcheckEntry(name='";
        text += e.name;
        text += "', analytic=";
        text += float_repr(e.analytic);
        text += ", numeric=";
        text += float_repr(e.numeric);
        text += e.passed ? ", passed=True)" : ", passed=False)";
        return text;
      });
  py::class_<sg::GradcheckReport>(m, "GradcheckReport", "What gradcheck() found.")
      .def_readonly("value", &sg::GradcheckReport::value)
      .def_readonly("entries", &sg::GradcheckReport::entries)
      .def_readonly("passed", &sg::GradcheckReport::passed)
      .def("__bool__", [](const sg::GradcheckReport& r) { return r.passed; })
      .def("__str__", [](const sg::GradcheckReport& r) {
        std::ostringstream out;
        out << r;
        return out.str();
      });
  m.def(
      "gradcheck",
      [](py::function f, const std::vector<double>& inputs, double eps, double tolerance,
         const std::optional<std::vector<std::string>>& names) {
        const sg::GradcheckFunction function = [&f](std::span<const sg::Value> xs) -> sg::Value {
          py::list args(xs.size());
          for (std::size_t i = 0; i < xs.size(); ++i) {
            PyList_SET_ITEM(args.ptr(), static_cast<Py_ssize_t>(i), py::cast(xs[i]).release().ptr());
          }
          const py::object result = f(args);
          return to_value(result, "gradcheck: f's result");
        };
        return sg::gradcheck(function, inputs, eps, tolerance,
                             names ? std::span<const std::string>(*names) : std::span<const std::string>());
      },
      py::arg("f"), py::arg("inputs"), py::arg("eps") = 1e-6, py::arg("tolerance") = 1e-5, py::arg("names") = py::none(),
      "Compares backward()'s gradient of f(list of Values) with central finite differences.");

  using NoGrad = GuardContext<sg::NoGradGuard>;
  py::class_<NoGrad>(m, "no_grad", "with no_grad(): ops record nothing (their results are leaves).")
      .def(py::init<>())
      .def("__enter__", [](NoGrad& g) { g.enter(); })
      .def("__exit__", [](NoGrad& g, py::args) { g.exit(); });
  using Anomaly = GuardContext<sg::AnomalyGuard>;
  py::class_<Anomaly>(m, "detect_anomaly",
                      "with detect_anomaly(): the first op making a NaN or inf raises AnomalyError naming it.")
      .def(py::init<>())
      .def("__enter__", [](Anomaly& g) { g.enter(); })
      .def("__exit__", [](Anomaly& g, py::args) { g.exit(); });
  m.def("is_grad_enabled", &sg::is_grad_enabled, "False inside `with no_grad()`.");
  m.def(
      "tape_stats",
      [] {
        const sg::TapeStats s = sg::tape_stats();
        py::dict d;
        d["nodes"] = s.nodes;
        d["segments"] = s.segments;
        d["leaves"] = s.leaves;
        d["bytes"] = s.bytes;
        d["high_water_nodes"] = s.high_water_nodes;
        d["high_water_bytes"] = s.high_water_bytes;
        return d;
      },
      "What this thread's tape holds (nodes, segments, leaves, bytes, high-water marks).");

  // ---- nn ------------------------------------------------------------------------------------------
  py::module_ nnm = m.def_submodule("nn", "scalargrad.nn, compiled");

  py::class_<ParameterRef, sg::Value>(nnm, "Parameter",
                                      "A trainable weight: a Value whose data and grad write through to the model.")
      .def(py::init([](py::handle data, const std::string& name) {
             auto own = std::make_unique<nn::Parameter>(to_number(data, "Parameter(data): data"));
             own->name = name;
             nn::Parameter* p = own.get();
             return std::make_unique<ParameterRef>(p, std::move(own));
           }),
           py::arg("data") = 0.0, py::arg("name") = "")
      // data and grad: C getset entries writing through (install_fast_paths()).
      .def_property_readonly("name", [](py::handle self) { return parameter_of(self).param->name; },
                             "'layer1/n0.w1' for weight 1 of neuron 0 of layer 1 of an MLP.");

  py::class_<nn::Module>(nnm, "_Module", "Base of the compiled modules.")
      .def("parameters", [](py::handle self) { return wrap_parameters(self.cast<nn::Module&>().parameters(), self); },
           "Every parameter (Parameter objects writing through to the model), in micrograd's order.")
      .def("zero_grad", &nn::Module::zero_grad, "Sets every parameter's grad to 0.")
      .def("num_parameters", &nn::Module::num_parameters)
      .def("__repr__", &nn::Module::repr);

  py::class_<nn::Neuron, nn::Module>(nnm, "Neuron", "activation(w . x + b), micrograd's Neuron.")
      .def(py::init([](const py::int_& nin, bool nonlin, const std::optional<std::string>& activation,
                       const py::int_& seed) {
             return std::make_unique<nn::Neuron>(size_number(nin, "Neuron", "nin"), activation_of(nonlin, activation),
                                                 whole_number(seed, "Neuron", "seed"));
           }),
           py::arg("nin"), py::arg("nonlin") = true, py::kw_only(), py::arg("activation") = py::none(),
           py::arg("seed") = 1)
      .def("__call__", [](const nn::Neuron& n, py::handle x) {
        const Inputs in = read_inputs(x, "Neuron");
        return box(in.all_numbers ? n(std::span<const double>(in.numbers)) : n(std::span<const sg::Value>(in.values)));
      })
      .def_property_readonly("w", [](py::handle self) {
        auto& n = self.cast<nn::Neuron&>();
        std::vector<nn::Parameter*> weights;
        for (const nn::Parameter& w : n.weights()) weights.push_back(const_cast<nn::Parameter*>(&w));
        return wrap_parameters(weights, self);
      }, "The weights (Parameters).")
      .def_property_readonly("b", [](py::handle self) {
        auto& n = self.cast<nn::Neuron&>();
        return wrap_parameter(const_cast<nn::Parameter*>(&n.bias()), self);
      }, "The bias (a Parameter).")
      .def_property_readonly("nonlin", [](const nn::Neuron& n) {
        return n.activation().kind() != nn::Activation::Kind::Linear;
      })
      .def_property_readonly("activation", [](const nn::Neuron& n) { return n.activation().name(); })
      .def_property_readonly("nin", &nn::Neuron::nin);

  py::class_<nn::Layer, nn::Module>(nnm, "Layer", "nout neurons reading the same nin inputs.")
      .def(py::init([](const py::int_& nin, const py::int_& nout, bool nonlin,
                       const std::optional<std::string>& activation, const std::string& init, const py::int_& seed) {
             return std::make_unique<nn::Layer>(size_number(nin, "Layer", "nin"), size_number(nout, "Layer", "nout"),
                                                activation_of(nonlin, activation), nn::parse_init(init),
                                                whole_number(seed, "Layer", "seed"));
           }),
           py::arg("nin"), py::arg("nout"), py::arg("nonlin") = true, py::kw_only(),
           py::arg("activation") = py::none(), py::arg("init") = "uniform", py::arg("seed") = 1)
      .def("__call__", [](const nn::Layer& l, py::handle x) { return call_model(l, x, "Layer"); })
      .def_property_readonly("neurons", [](py::handle self) {
        auto& layer = self.cast<nn::Layer&>();
        py::list out;
        for (const nn::Neuron& n : layer.neurons()) {
          out.append(py::cast(&n, py::return_value_policy::reference_internal, self));
        }
        return out;
      }, "The neurons (views into this layer).")
      .def_property_readonly("activation", [](const nn::Layer& l) { return l.activation().name(); })
      .def_property_readonly("nin", &nn::Layer::nin)
      .def_property_readonly("nout", &nn::Layer::nout);

  py::class_<nn::MLP, nn::Module>(nnm, "MLP", "A multi-layer perceptron, micrograd's MLP(nin, nouts).")
      .def(py::init([](const py::int_& nin, py::handle nouts, py::handle activation,
                       py::handle output_activation, const std::string& init, const py::int_& seed) {
             std::vector<std::size_t> sizes;
             for (py::handle size : to_list(nouts, "MLP", "nouts", "a list of layer sizes, such as [16, 16, 1]")) {
               if (!py::isinstance<py::int_>(size)) {
                 throw py::type_error("MLP: nouts must hold whole numbers, got '" + type_name(size) + "'");
               }
               sizes.push_back(size_number(size.cast<py::int_>(), "MLP", "each of nouts"));
             }
             return std::make_unique<nn::MLP>(size_number(nin, "MLP", "nin"), sizes,
                                              mlp_activations(sizes.size(), activation, output_activation),
                                              nn::parse_init(init), whole_number(seed, "MLP", "seed"));
           }),
           py::arg("nin"), py::arg("nouts"), py::kw_only(), py::arg("activation") = "relu",
           py::arg("output_activation") = py::none(), py::arg("init") = "uniform", py::arg("seed") = 1)
      .def("__call__", [](const nn::MLP& model, py::handle x) { return call_model(model, x, "MLP"); })
      .def("scores", &model_scores, py::arg("points"),
           "The score of each point (a list of numbers or Values), as [model(x) for x in points] gives them, "
           "recorded as one batch: faster. The model must have one output.")
      .def_property_readonly("layers", [](py::handle self) {
        auto& model = self.cast<nn::MLP&>();
        py::list out;
        for (const nn::Layer& l : model.layers()) {
          out.append(py::cast(&l, py::return_value_policy::reference_internal, self));
        }
        return out;
      }, "The layers (views into this network).")
      .def_property_readonly("nin", &nn::MLP::nin)
      .def_property_readonly("nout", &nn::MLP::nout)
      .def("to_json", [](const nn::MLP& model) { return nn::to_json(model); }, "The model as JSON text.")
      .def_static("from_json", [](const std::string& text) { return nn::from_json(text); }, py::arg("text"))
      .def("save", [](const nn::MLP& model, py::handle path) { nn::save_model(model, file_path(path, "MLP.save")); },
           py::arg("path"), "Writes the model file (JSON); path is a str or os.PathLike.")
      .def_static("load", [](py::handle path) { return nn::load_model(file_path(path, "MLP.load")); },
                  py::arg("path"), "Reads a model file written by save().")
      .def("load_weights",
           [](nn::MLP& model, py::handle path) { nn::load_weights(model, file_path(path, "MLP.load_weights")); },
           py::arg("path"), "Reads the weights of a model file of the same architecture.");

  nnm.def("activations", [] {
    std::vector<std::string> out;
    for (const std::string_view name : nn::Activation::names()) out.emplace_back(name);
    return out;
  }, "The activation names: relu, leaky_relu, ... ('leaky_relu:0.001' sets a slope).");

  // Losses and metrics.
  nnm.def("hinge_loss", [](py::iterable scores, const std::vector<double>& labels) {
    return nn::hinge_loss(values_of(scores, "hinge_loss: scores"), labels);
  }, py::arg("scores"), py::arg("labels"), "mean of relu(1 - y s) (micrograd's max-margin loss), labels -1/+1.");
  nnm.def("mse_loss", [](py::iterable predictions, const std::vector<double>& targets) {
    return nn::mse_loss(values_of(predictions, "mse_loss: predictions"), targets);
  }, py::arg("predictions"), py::arg("targets"), "mean of (p - t)^2.");
  nnm.def("bce_with_logits_loss", [](py::iterable logits, const std::vector<double>& labels) {
    return nn::bce_with_logits_loss(values_of(logits, "bce_with_logits_loss: logits"), labels);
  }, py::arg("logits"), py::arg("labels"), "Binary cross-entropy on logits, labels 0/1.");
  nnm.def("_l2_penalty", [](const nn::Module& model, double alpha) { return nn::l2_penalty(model, alpha); },
          py::arg("model"), py::arg("alpha"));
  nnm.def("accuracy", [](py::iterable scores, const std::vector<double>& labels) {
    return nn::accuracy(values_of(scores, "accuracy: scores"), labels);
  }, py::arg("scores"), py::arg("labels"), "Fraction of points with (s > 0) == (y > 0).");
  nnm.def("linear_decay", [](const py::int_& step, const py::int_& steps, double start, double end) {
    return nn::linear_decay(size_number(step, "linear_decay", "step"), size_number(steps, "linear_decay", "steps"),
                            start, end);
  }, py::arg("step"), py::arg("steps"), py::arg("start") = 1.0,
          py::arg("end") = 0.1, "micrograd's learning rate: start - (start - end) * step / steps; after step `steps` it stays at that "
          "step's rate.");

  // Optimizers.
  py::class_<nn::Optimizer>(nnm, "Optimizer", "Updates parameters from their grad.")
      .def("step", &nn::Optimizer::step, "One update of every parameter.")
      .def("zero_grad", &nn::Optimizer::zero_grad, "Sets every parameter's grad to 0.")
      .def_property("learning_rate", &nn::Optimizer::learning_rate, &nn::Optimizer::set_learning_rate);
  using PySGD = KeepingOptimizer<nn::SGD>;
  py::class_<PySGD, nn::Optimizer>(nnm, "SGD", "data -= lr * (momentum v + grad + weight_decay data).")
      .def(py::init([](py::handle params, double lr, double momentum, double weight_decay) {
             py::list kept = to_list(params, "SGD", "parameters", "a list of Parameters, such as model.parameters()");
             std::vector<nn::Parameter*> ps = unwrap_parameters(kept, "SGD");
             return std::make_unique<PySGD>(std::move(kept), std::move(ps), lr, momentum, weight_decay);
           }),
           py::arg("parameters"), py::arg("lr"), py::arg("momentum") = 0.0, py::arg("weight_decay") = 0.0);
  using PyAdam = KeepingOptimizer<nn::Adam>;
  py::class_<PyAdam, nn::Optimizer>(nnm, "Adam", "Adam (Kingma & Ba), with bias correction.")
      .def(py::init([](py::handle params, double lr, double beta1, double beta2, double eps, double weight_decay) {
             py::list kept = to_list(params, "Adam", "parameters", "a list of Parameters, such as model.parameters()");
             std::vector<nn::Parameter*> ps = unwrap_parameters(kept, "Adam");
             return std::make_unique<PyAdam>(std::move(kept), std::move(ps), lr, beta1, beta2, eps, weight_decay);
           }),
           py::arg("parameters"), py::arg("lr") = 1e-3, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999,
           py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0);

  // Data and diagnostics.
  nnm.def("make_moons", [](const py::int_& n, double noise, const py::int_& seed, bool zero_one) {
    nn::Dataset d = nn::make_moons(size_number(n, "make_moons", "n"), noise, whole_number(seed, "make_moons", "seed"),
                                   zero_one ? nn::Labels::ZeroOne : nn::Labels::PlusMinusOne);
    return py::make_tuple(py::cast(std::move(d.inputs)), py::cast(std::move(d.labels)));
  }, py::arg("n") = 100, py::arg("noise") = 0.1, py::arg("seed") = 1, py::arg("zero_one") = false,
     "Two moons: (X, y), X a list of n [x1, x2] points, y their labels (-1/+1, or 0/1 with zero_one=True).");
  nnm.def("weight_grad_norms", &nn::weight_grad_norms, py::arg("model"),
          "Norm of each layer's weight gradient, first layer first.");
  nnm.def("dead_neurons", [](const nn::MLP& model, const std::vector<std::vector<double>>& inputs) {
    return nn::dead_neurons(model, inputs).dead;
  }, py::arg("model"), py::arg("inputs"), "dead[l][j]: neuron j of layer l is <= 0 on every input.");

  // ---- Fast paths and public names -----------------------------------------------------------------
  parameter_type = reinterpret_cast<PyTypeObject*>(nnm.attr("Parameter").ptr());
  parameter_tinfo = py::detail::get_type_info(typeid(ParameterRef));
  install_fast_paths(m.attr("Value"), nnm.attr("Parameter"));
  for (const char* name : {"Value", "Error", "AnomalyError", "GradcheckEntry", "GradcheckReport"}) {
    set_public_name(m.attr(name), "scalargrad");
  }
  for (const char* name : {"Parameter", "Neuron", "Layer", "MLP", "Optimizer", "SGD", "Adam"}) {
    set_public_name(nnm.attr(name), "scalargrad.nn");
  }
}
