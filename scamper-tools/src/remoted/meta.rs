//! The `-m` metadata file (remote.md §8.3): `<vp-name> <attribute> <value>` lines that add
//! attributes to the VP_UPDATE messages of the VP with that monitor name.

use std::collections::HashMap;

/// Attributes of one VP; `tags` may repeat, the rest keep the last value given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpMeta {
    pub asn4: Option<String>,
    pub asn6: Option<String>,
    pub cc: Option<String>,
    pub st: Option<String>,
    pub place: Option<String>,
    pub latlong: Option<String>,
    pub shortname: Option<String>,
    pub iata: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    vps: HashMap<String, VpMeta>,
}

impl Metadata {
    /// Monitor names are matched case-sensitively.
    pub fn get(&self, name: &str) -> Option<&VpMeta> {
        self.vps.get(name)
    }

    pub fn parse(text: &str) -> Result<Metadata, String> {
        let mut vps: HashMap<String, VpMeta> = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut it = line.splitn(2, char::is_whitespace);
            let name = it.next().unwrap_or("");
            let rest = it.next().unwrap_or("").trim_start();
            let mut it = rest.splitn(2, char::is_whitespace);
            let attr = it.next().unwrap_or("");
            let value = it.next().unwrap_or("").trim();
            if name.is_empty() || attr.is_empty() || value.is_empty() {
                return Err(format!("line {}: expected <vp> <attribute> <value>", n + 1));
            }
            let m = vps.entry(name.to_string()).or_default();
            let v = Some(value.to_string());
            match attr.to_ascii_lowercase().as_str() {
                "asn4" => m.asn4 = v,
                "asn6" => m.asn6 = v,
                "cc" => m.cc = v,
                "st" => m.st = v,
                "place" => m.place = v,
                "latlong" => m.latlong = v,
                "shortname" => m.shortname = v,
                "iata" => m.iata = v,
                "tag" => m.tags.push(value.to_string()),
                // Unknown attributes are ignored, as sc_remoted does.
                _ => {}
            }
        }
        Ok(Metadata { vps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_ignores() {
        let m = Metadata::parse(
            "# comment\n\nvp1 cc NZ\nvp1 PLACE Hamilton, Waikato\nvp1 tag a\nvp1 tag b\n\
             vp1 colour blue\nvp2\tasn4\t64496\n",
        )
        .unwrap();
        let v = m.get("vp1").unwrap();
        assert_eq!(v.cc.as_deref(), Some("NZ"));
        assert_eq!(v.place.as_deref(), Some("Hamilton, Waikato"));
        assert_eq!(v.tags, vec!["a", "b"]);
        assert_eq!(m.get("vp2").unwrap().asn4.as_deref(), Some("64496"));
        assert!(m.get("VP1").is_none());
    }

    #[test]
    fn short_line_invalidates_file() {
        assert!(Metadata::parse("vp1 cc NZ\nvp2 cc\n").is_err());
    }
}
