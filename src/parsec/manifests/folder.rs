//! Folder manifests: entry name → child vlob id.

use std::collections::BTreeMap;

use rmpv::Value;
use uuid::Uuid;

use super::Header;
use crate::parsec::entry_name::EntryName;
use crate::parsec::error::DataResult;
use crate::parsec::serialization::msgpack::{self as mp, Fields};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderManifest {
    pub header: Header,
    /// Two raw names that normalise alike collapse: the later one wins, as in Parsec.
    pub children: BTreeMap<EntryName, Uuid>,
}

impl FolderManifest {
    pub(super) fn read(header: Header, f: &Fields) -> DataResult<Self> {
        let mut children = BTreeMap::new();
        for (name, id) in f.map_entries("children")? {
            let name = EntryName::parse(mp::as_str(name, "children")?)?;
            children.insert(name, mp::as_id(id, "children")?);
        }
        Ok(FolderManifest { header, children })
    }

    pub(super) fn to_value(&self) -> Value {
        let mut fields = self.header.fields("folder_manifest");
        fields.push((
            "children",
            Value::Map(
                self.children
                    .iter()
                    .map(|(name, id)| (mp::str(name.as_str()), mp::id(*id)))
                    .collect(),
            ),
        ));
        mp::map(fields)
    }
}
