//! Every op: shape checks, one call to the backend through [`crate::storage::Storage`], and the
//! op's backward rule beside it. One module per op family.

mod batch_norm;
mod binary;
mod broadcast;
mod cast;
mod concat;
mod conv;
mod cross_entropy;
mod depthwise_conv;
mod dropout;
mod gather;
mod matmul;
mod permute;
mod pool;
mod recurrent;
mod reduce;
mod reshape;
mod slice;
mod softmax;
mod unary;
