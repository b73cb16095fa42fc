//! wharf-runtime: placeholder
