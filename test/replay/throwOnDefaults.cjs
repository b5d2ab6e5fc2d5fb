// Webpack loader for the replay test of defaults: every zod default (and prefault) in our sources
// becomes a function that throws, so a replay that computes a default in workflow code fails.
// zod calls a function default only when the value is missing; the original value stays as an
// ignored second argument, so the source keeps its shape.
module.exports = function throwOnDefaults(source) {
  return source.replace(/\.(default|prefault)\(/g, ".$1(() => { throw new Error('a zod default was computed in workflow code during replay: resolve the input with resolveWorkflowInput') }, ");
};
