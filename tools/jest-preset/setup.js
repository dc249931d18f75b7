// Filters tfjs's one-line advertisement for tfjs-node, which cannot be installed on machines
// without access to libtensorflow and is noise in every test log. Other warnings pass through.
const warn = console.warn;
console.warn = (...args) => {
  const first = typeof args[0] === 'string' ? args[0] : '';
  if (first.includes('looks like you are running TensorFlow.js in Node.js')) return;
  warn(...args);
};
