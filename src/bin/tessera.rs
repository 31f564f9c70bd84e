//! The `tessera` command line.

fn main() {
    println!("tessera {}", env!("CARGO_PKG_VERSION"));
}
