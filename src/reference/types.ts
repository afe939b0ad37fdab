/**
 * References take float32 or float64 arrays: kernels are compared with them in float32, and
 * their backward passes are checked against finite differences in float64.
 */
export type Floats = Float32Array | Float64Array;
