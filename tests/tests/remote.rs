//! Remote control end to end: our scamper connects out with `-R` over TLS to our sc_remoted,
//! which exposes the vantage point as a unix socket that sc_attach drives. A vantage point that
//! is killed and restarted comes back; one whose controller dies keeps running and retrying.

mod common;

use common::TempDir;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use scamper_systests::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A throwaway CA and a server certificate for "localhost".
fn pki(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &ca).unwrap();
    let (ca_path, cert_path, key_path) = (
        dir.path("ca.pem"),
        dir.path("server.pem"),
        dir.path("server.key"),
    );
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_path, cert_path, key_path)
}

/// A per-VP socket sc_remoted created for monitor `name`, other than `not` (the socket of a
/// killed vantage point stays while sc_remoted holds its session for a resume).
fn vp_socket(
    dir: &std::path::Path,
    name: &str,
    not: Option<&std::path::Path>,
    limit: Duration,
) -> Option<std::path::PathBuf> {
    let end = Instant::now() + limit;
    loop {
        let found = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| Some(p.as_path()) != not)
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{name}-"))
            });
        if found.is_some() || Instant::now() > end {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn attach_and_ping(lab: &Lab, sock: &std::path::Path, dir: &TempDir, tag: &str) -> String {
    let cmds = dir.path(&format!("cmds-{tag}.txt"));
    std::fs::write(&cmds, format!("ping -c 1 {TARGET_V4}\n")).unwrap();
    let out = dir.path(&format!("out-{tag}.warts"));
    let o = lab
        .exec_timeout(
            Role::Vp,
            &[
                tool_bin("sc_attach").to_str().unwrap(),
                "-R",
                sock.to_str().unwrap(),
                "-i",
                cmds.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(
        o.status.success(),
        "sc_attach -R: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let json = std::process::Command::new(tool_bin("sc_warts2json"))
        .arg(&out)
        .output()
        .unwrap();
    String::from_utf8_lossy(&json.stdout).into_owned()
}

#[test]
fn scamper_dash_r_over_tls_to_sc_remoted() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("remote");
    let (ca, cert, key) = pki(&dir);
    let vps = dir.path("vps");
    std::fs::create_dir(&vps).unwrap();
    let controller = |lab: &Lab| {
        let mut cmd = lab.command(Role::Vp, tool_bin("sc_remoted"));
        cmd.args(["-P", "127.0.0.1:31339", "-U", vps.to_str().unwrap()])
            .args(["-c", cert.to_str().unwrap(), "-p", key.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        lab.spawn(cmd).unwrap()
    };
    let vantage_point = |lab: &Lab| {
        let cafile = format!("cafile={}", ca.display());
        let mut cmd = lab.command(Role::Vp, scamper_bin());
        cmd.args([
            "-R",
            "localhost:31339",
            "-M",
            "vp1",
            "-O",
            &cafile,
            "-p",
            "100",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        lab.spawn(cmd).unwrap()
    };
    let remoted = controller(&lab);
    std::thread::sleep(Duration::from_millis(300));
    let vp = vantage_point(&lab);
    let sock =
        vp_socket(&vps, "vp1", None, Duration::from_secs(20)).expect("sc_remoted exposes vp1");
    let json = attach_and_ping(&lab, &sock, &dir, "first");
    assert!(
        json.contains("\"type\":\"ping\"") && json.contains(&TARGET_V4.to_string()),
        "{json}"
    );

    // Kill the vantage point and start it again: it connects anew and is driven again.
    vp.signal(nix::sys::signal::SIGKILL).unwrap();
    vp.wait_timeout(Duration::from_secs(10)).unwrap();
    let vp = vantage_point(&lab);
    let again = vp_socket(&vps, "vp1", Some(&sock), Duration::from_secs(20)).expect("vp1 back");
    let json = attach_and_ping(&lab, &again, &dir, "second");
    assert!(json.contains("\"type\":\"ping\""), "{json}");

    // Kill the controller: the vantage point keeps running and retries.
    remoted.signal(nix::sys::signal::SIGKILL).unwrap();
    remoted.wait_timeout(Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        vp.try_wait().unwrap().is_none(),
        "scamper exited when its controller died"
    );
    vp.signal(nix::sys::signal::SIGTERM).unwrap();
    let status = vp
        .wait_timeout(Duration::from_secs(15))
        .unwrap()
        .expect("scamper exits on SIGTERM");
    assert!(status.success(), "{status:?}");
}
