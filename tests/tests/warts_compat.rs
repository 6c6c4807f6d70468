//! What our scamper writes on the lab is read without complaint by Debian's scamper tools
//! (20211212, installed by .ci/run), and by ours with the same objects.

mod common;

use common::{json_lines, scamper, TempDir};
use scamper_systests::*;
use std::process::Command;
use std::time::Duration;

fn debian_tool(name: &str) -> std::path::PathBuf {
    let p = std::path::Path::new("/usr/bin").join(name);
    assert!(
        p.exists(),
        "{} missing: install Debian's scamper package (.ci/run does)",
        p.display()
    );
    p
}

#[test]
fn debian_tools_read_our_warts() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::default()).unwrap();
    let dir = TempDir::new("compat");
    for (suffix, cat) in [
        ("warts", None),
        ("warts.gz", Some("zcat")),
        ("warts.bz2", Some("bzcat")),
        ("warts.xz", Some("xzcat")),
    ] {
        let out = dir.path(&format!("out.{suffix}"));
        let t4 = TARGET_V4.to_string();
        let t6 = TARGET_V6.to_string();
        let cmds = [
            format!("ping -c 3 -i 0.2 {t4}"),
            format!("ping -c 2 -i 0.2 -P udp {t6}"),
            format!("ping -c 2 -i 0.2 -P tcp-syn -d 80 {t4}"),
            format!("trace {t4}"),
            format!("trace -P icmp-paris {t6}"),
            format!("trace -P tcp -d 80 {t4}"),
        ];
        let mut args = vec!["-o", out.to_str().unwrap(), "-p", "100", "-I"];
        args.extend(cmds.iter().map(String::as_str));
        let run = scamper(&lab, &args, Duration::from_secs(120));
        assert!(run.status.success(), "{}", run.stderr);

        // Debian's tools predate compressed input, so feed them the decompressed stream.
        let plain = match cat {
            None => out.clone(),
            Some(tool) => {
                let p = dir.path(&format!("plain-{suffix}.warts"));
                let o = Command::new(tool).arg(&out).output().unwrap();
                assert!(o.status.success(), "{tool} failed");
                std::fs::write(&p, o.stdout).unwrap();
                p
            }
        };
        let deb = Command::new(debian_tool("sc_warts2json"))
            .arg(&plain)
            .output()
            .unwrap();
        assert!(
            deb.status.success(),
            "Debian sc_warts2json: {}",
            String::from_utf8_lossy(&deb.stderr)
        );
        let deb_json = json_lines(&String::from_utf8_lossy(&deb.stdout));
        let count = |t: &str| deb_json.iter().filter(|v| v["type"] == t).count();
        assert_eq!(
            (count("ping"), count("trace")),
            (3, 3),
            "{suffix}: {deb_json:?}"
        );
        assert_eq!(
            (count("cycle-start"), count("cycle-stop")),
            (1, 1),
            "{suffix}"
        );
        let dump = Command::new(debian_tool("sc_wartsdump"))
            .arg(&plain)
            .output()
            .unwrap();
        assert!(
            dump.status.success(),
            "Debian sc_wartsdump failed on {suffix}"
        );
        assert!(!dump.stdout.is_empty());

        // Ours reads the compressed file directly and finds the same records.
        let ours = Command::new(tool_bin("sc_warts2json"))
            .arg(&out)
            .output()
            .unwrap();
        assert!(ours.status.success());
        let ours = json_lines(&String::from_utf8_lossy(&ours.stdout));
        let types: Vec<_> = ours
            .iter()
            .map(|v| v["type"].as_str().unwrap().to_string())
            .collect();
        let deb_types: Vec<_> = deb_json
            .iter()
            .map(|v| v["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(types, deb_types, "{suffix}");
        // Same destinations and reply counts as Debian sees them.
        for (a, b) in ours.iter().zip(&deb_json) {
            assert_eq!(a["dst"], b["dst"], "{suffix}");
            if a["type"] == "ping" {
                assert_eq!(
                    a["responses"].as_array().map(Vec::len),
                    b["responses"].as_array().map(Vec::len)
                );
            }
        }
    }
}
