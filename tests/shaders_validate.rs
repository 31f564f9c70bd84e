//! Every WGSL kernel in `shaders/` parses and validates with naga. Needs no GPU, so a broken
//! shader fails CI even where no adapter exists.

use std::path::Path;

#[test]
fn every_shader_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("shaders/ exists") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{name} does not parse:\n{}", e.emit_to_string(&source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name} does not validate:\n{}", e.emit_to_string(&source)));
        assert!(
            module.entry_points.iter().any(|ep| ep.stage == naga::ShaderStage::Compute),
            "{name} has no compute entry point"
        );
        checked.push(name);
    }
    assert!(checked.len() >= 4, "expected the kernels in {}, found {checked:?}", dir.display());
    println!("validated {} shaders: {}", checked.len(), checked.join(", "));
}
