//! Reading the XML documents S3 requests carry (CreateBucketConfiguration, Delete,
//! CompleteMultipartUpload, Tagging, CORS, lifecycle, notification…) into a small tree;
//! anything that is not well-formed XML is S3's `MalformedXML`.

use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name (namespace prefix dropped).
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of child `name`, trimmed.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Parse a document; `None` when it is not well-formed or has no root element.
pub fn parse(body: &[u8]) -> Option<Element> {
    let mut reader = Reader::from_reader(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                stack.push(Element { name, ..Element::default() });
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let element = Element { name, ..Element::default() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Some(element),
                }
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text.unescape().ok()?);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::End(end) => {
                let element = stack.pop()?;
                if end.local_name().as_ref() != element.name.as_bytes() {
                    return None;
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Some(element),
                }
            }
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let doc = parse(br#"<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object><Quiet>true</Quiet><Object><Key>c</Key></Object></Delete>"#).unwrap();
        assert_eq!(doc.name, "Delete");
        let keys: Vec<_> = doc.children("Object").filter_map(|o| o.text_of("Key")).collect();
        assert_eq!(keys, ["a&b", "c"]);
        assert_eq!(doc.text_of("Quiet"), Some("true"));
        assert!(parse(b"<Delete><Object></Delete>").is_none());
        assert!(parse(b"not xml").is_none());
        assert!(parse(b"").is_none());
    }
}
