//! Placeholder until the build module lands.
use super::context::BuildContext;
use std::collections::BTreeMap;
pub struct BuildRequest<'a> {
    pub context: &'a BuildContext,
    pub tag: &'a str,
    pub args: &'a BTreeMap<String, String>,
    pub labels: &'a BTreeMap<String, String>,
}
pub struct BuiltImage {
    pub tag: String,
    pub id: String,
}
pub fn image_tag(_p: &str, _s: &str, _h: &str, _a: &BTreeMap<String, String>) -> String {
    String::new()
}
pub async fn build(
    _docker: &bollard::Docker,
    _request: BuildRequest<'_>,
    _log: &mut (dyn FnMut(&str) + Send),
) -> Result<BuiltImage, String> {
    Err("not yet".into())
}
