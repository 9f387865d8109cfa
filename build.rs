//! Links the C++ standard library statically on Linux with the GNU toolchain.
//!
//! The C++ code in the stack (usearch's vector index, the tokenizer's suffix arrays) uses a handful
//! of libstdc++ symbols, but loading `libstdc++.so` costs every abathur process, most of which never
//! touch that code, about half a millisecond: mapping the library and resolving ~1,700 of its own
//! symbol bindings at start-up. `.cargo/config.toml` sets `CXXSTDLIB=""` so that those crates'
//! build scripts do not link it; this script links the static archive instead, after everything else
//! (a link argument, so it follows the objects that need it). Where no static archive is found, or on
//! other platforms, it links the platform's C++ library the ordinary way.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CXX");
    println!("cargo:rerun-if-env-changed=CXXSTDLIB");
    let target = std::env::var("TARGET").unwrap_or_default();
    let stdlib_suppressed = std::env::var("CXXSTDLIB").is_ok_and(|v| v.is_empty());
    if !stdlib_suppressed {
        return; // the C++ crates link their standard library themselves
    }
    if target.contains("linux") && target.contains("gnu") {
        if let Some(archive) = static_libstdcxx() {
            println!("cargo:rustc-link-arg={archive}");
            return;
        }
        println!("cargo:rustc-link-lib=stdc++");
    } else if target.contains("apple") || target.contains("freebsd") {
        println!("cargo:rustc-link-lib=c++");
    } else {
        println!("cargo:rustc-link-lib=stdc++");
    }
}

/// The full path of `libstdc++.a` as the C++ compiler reports it, if it exists.
fn static_libstdcxx() -> Option<String> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    let out = Command::new(cxx).arg("-print-file-name=libstdc++.a").output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && std::path::Path::new(&path).is_absolute() && std::path::Path::new(&path).exists())
        .then_some(path)
}
