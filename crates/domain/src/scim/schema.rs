//! The attributes of Roster's SCIM resources (RFC 7643 §4, §8.7.1), as data: what the
//! `/Schemas` endpoint describes, what a filter or a path may name ([`ResourceSchema::resolve`],
//! an unknown name being `invalidFilter` or `invalidPath`), and how a value compares
//! ([`AttrDef::case_exact`], [`AttrType`]).

use super::filter::AttrPath;

/// The core User schema's URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension's URN.
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core Group schema's URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A string.
    String,
    /// `true` or `false`.
    Boolean,
    /// An `xsd:dateTime` (RFC 3339) string.
    DateTime,
    /// A URI or a resource's id.
    Reference,
    /// An integer.
    Integer,
    /// An object of sub-attributes.
    Complex,
}

impl AttrType {
    /// The type's name in a schema document.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::DateTime => "dateTime",
            Self::Reference => "reference",
            Self::Integer => "integer",
            Self::Complex => "complex",
        }
    }
}

/// Whether and how a client may write an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only; ignored in a request.
    ReadOnly,
    /// Written and read.
    ReadWrite,
    /// Written once, at creation.
    Immutable,
}

impl Mutability {
    /// The name in a schema document.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
        }
    }
}

/// One attribute of a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrDef {
    /// The name, as the schema spells it (names compare case-insensitively).
    pub name: &'static str,
    /// The data type.
    pub kind: AttrType,
    /// Whether it holds a list.
    pub multi: bool,
    /// Whether string comparisons respect case.
    pub case_exact: bool,
    /// Whether a resource must hold it.
    pub required: bool,
    /// Who writes it.
    pub mutability: Mutability,
    /// Whether it is unique among the organization's resources (`server`) or not (`none`).
    pub unique: bool,
    /// Sub-attributes of a complex attribute.
    pub sub: &'static [AttrDef],
    /// What it means, for the `/Schemas` document.
    pub description: &'static str,
}

const fn text(name: &'static str, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        kind: AttrType::String,
        multi: false,
        case_exact: false,
        required: false,
        mutability: Mutability::ReadWrite,
        unique: false,
        sub: &[],
        description,
    }
}

const fn read_only(def: AttrDef) -> AttrDef {
    AttrDef { mutability: Mutability::ReadOnly, ..def }
}

const fn of_type(def: AttrDef, kind: AttrType) -> AttrDef {
    AttrDef { kind, ..def }
}

const fn complex(name: &'static str, multi: bool, sub: &'static [AttrDef], description: &'static str) -> AttrDef {
    AttrDef { kind: AttrType::Complex, multi, sub, ..text(name, description) }
}

/// The sub-attributes of a multi-valued attribute such as `emails` (RFC 7643 §2.4).
const MULTI_VALUE: &[AttrDef] = &[
    text("value", "The value."),
    text("display", "A human-readable name."),
    text("type", "A label such as `work`."),
    of_type(text("primary", "Whether this is the primary value."), AttrType::Boolean),
];

const META: AttrDef = read_only(complex(
    "meta",
    false,
    &[
        text("resourceType", "The resource's type."),
        of_type(text("created", "When the resource was created."), AttrType::DateTime),
        of_type(text("lastModified", "When the resource last changed."), AttrType::DateTime),
        of_type(text("location", "The resource's URI."), AttrType::Reference),
        AttrDef { case_exact: true, ..text("version", "The resource's version, its ETag.") },
    ],
    "Resource metadata.",
));

const ID: AttrDef = AttrDef {
    case_exact: true,
    unique: true,
    ..read_only(text("id", "The service provider's unique identifier of the resource."))
};

const EXTERNAL_ID: AttrDef = AttrDef { case_exact: true, ..text("externalId", "The identity provider's identifier.") };

const SCHEMAS: AttrDef = AttrDef {
    multi: true,
    case_exact: true,
    ..of_type(text("schemas", "The schemas of the resource."), AttrType::Reference)
};

/// The core User schema's attributes Roster keeps, with the common ones (`id`, `meta`, …).
const USER_ATTRS: &[AttrDef] = &[
    SCHEMAS,
    ID,
    EXTERNAL_ID,
    META,
    AttrDef { required: true, unique: true, ..text("userName", "The member's email address.") },
    complex(
        "name",
        false,
        &[
            text("formatted", "The full name."),
            AttrDef { required: true, ..text("familyName", "The family name.") },
            AttrDef { required: true, ..text("givenName", "The given name.") },
            text("middleName", "Not kept."),
            text("honorificPrefix", "Not kept."),
            text("honorificSuffix", "Not kept."),
        ],
        "The member's name.",
    ),
    text("displayName", "The given and family names."),
    text("nickName", "The first of the member's nicknames."),
    text("title", "The job title."),
    text("userType", "Not kept."),
    text("preferredLanguage", "Not kept."),
    text("locale", "Not kept."),
    text("timezone", "Not kept."),
    of_type(text("active", "Whether the member is active; false deactivates them."), AttrType::Boolean),
    complex("emails", true, MULTI_VALUE, "The member's email address, as the one `work` email."),
    complex("phoneNumbers", true, MULTI_VALUE, "The member's phone (E.164), as the one `work` number."),
    complex(
        "addresses",
        true,
        &[
            text("formatted", "The full address."),
            text("streetAddress", "The street."),
            text("locality", "The city."),
            text("region", "The state or region."),
            text("postalCode", "The postal code."),
            text("country", "The country."),
            text("type", "A label such as `work`."),
            of_type(text("primary", "Whether this is the primary address."), AttrType::Boolean),
        ],
        "Not kept (accepted, as identity providers send it by default).",
    ),
    read_only(complex("groups", true, MULTI_VALUE, "The groups the member belongs to.")),
];

/// The enterprise extension's attributes (RFC 7643 §4.3).
const ENTERPRISE_ATTRS: &[AttrDef] = &[
    text("employeeNumber", "The employee number."),
    text("costCenter", "The cost center."),
    text("organization", "The organization."),
    text("division", "The division."),
    text("department", "The department."),
    complex(
        "manager",
        false,
        &[
            text("value", "The manager's id."),
            of_type(text("$ref", "The manager's URI."), AttrType::Reference),
            read_only(text("displayName", "The manager's name.")),
        ],
        "The member's manager.",
    ),
];

/// The Group schema's attributes.
const GROUP_ATTRS: &[AttrDef] = &[
    SCHEMAS,
    ID,
    EXTERNAL_ID,
    META,
    AttrDef { required: true, ..text("displayName", "The group's name.") },
    complex(
        "members",
        true,
        &[
            AttrDef { case_exact: true, ..text("value", "The member's id.") },
            of_type(text("$ref", "The member's URI."), AttrType::Reference),
            text("display", "The member's name."),
            text("type", "`User`."),
        ],
        "The group's members.",
    ),
];

/// One schema: its URN, name and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaDef {
    /// The URN.
    pub id: &'static str,
    /// A short name.
    pub name: &'static str,
    /// What it describes.
    pub description: &'static str,
    /// Its attributes.
    pub attributes: &'static [AttrDef],
}

/// The core User schema.
pub const USER: SchemaDef =
    SchemaDef { id: USER_SCHEMA, name: "User", description: "A member of the organization.", attributes: USER_ATTRS };
/// The enterprise User extension.
pub const ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise attributes of a member.",
    attributes: ENTERPRISE_ATTRS,
};
/// The core Group schema.
pub const GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "A team: a group below the root.",
    attributes: GROUP_ATTRS,
};

/// A resource type's schemas: one core schema and its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceSchema {
    /// The core schema.
    pub core: SchemaDef,
    /// The extensions.
    pub extensions: &'static [SchemaDef],
}

/// Users: the core schema and the enterprise extension.
pub const USERS: ResourceSchema = ResourceSchema { core: USER, extensions: &[ENTERPRISE_USER] };
/// Groups.
pub const GROUPS: ResourceSchema = ResourceSchema { core: GROUP, extensions: &[] };

/// What a path names in a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The extension's URN when the attribute belongs to one (its values sit in an object of
    /// that name).
    pub extension: Option<&'static str>,
    /// The attribute.
    pub attr: &'static AttrDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'static AttrDef>,
}

impl Resolved {
    /// The attribute whose values a comparison reads: the sub-attribute, or `value` of a
    /// multi-valued complex attribute named alone (RFC 7644 §3.4.2.2), or the attribute.
    pub fn target(&self) -> &'static AttrDef {
        match self.sub {
            Some(sub) => sub,
            None if self.attr.kind == AttrType::Complex && self.attr.multi => {
                find(self.attr.sub, "value").unwrap_or(self.attr)
            }
            None => self.attr,
        }
    }
}

fn find(attrs: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

impl ResourceSchema {
    /// The attribute a path names: a URN must be this resource's core schema or one of its
    /// extensions; an unqualified name is looked up in the core schema, then the extensions.
    /// `None` for anything unknown.
    pub fn resolve(&self, path: &AttrPath) -> Option<Resolved> {
        let schemas: Vec<(Option<&'static str>, &'static [AttrDef])> = match &path.urn {
            Some(urn) if urn.eq_ignore_ascii_case(self.core.id) => vec![(None, self.core.attributes)],
            Some(urn) => {
                vec![
                    self.extensions
                        .iter()
                        .find(|e| e.id.eq_ignore_ascii_case(urn))
                        .map(|e| (Some(e.id), e.attributes))?,
                ]
            }
            None => std::iter::once((None, self.core.attributes))
                .chain(self.extensions.iter().map(|e| (Some(e.id), e.attributes)))
                .collect(),
        };
        schemas.into_iter().find_map(|(extension, attrs)| {
            let attr = find(attrs, &path.name)?;
            let sub = match &path.sub {
                None => None,
                Some(sub) => Some(find(attr.sub, sub)?),
            };
            Some(Resolved { extension, attr, sub })
        })
    }

    /// A sub-attribute of a complex attribute, as the paths inside `attr[…]` name them.
    pub fn resolve_within(attr: &'static AttrDef, path: &AttrPath) -> Option<Resolved> {
        if path.urn.is_some() || path.sub.is_some() {
            return None;
        }
        Some(Resolved { extension: None, attr, sub: Some(find(attr.sub, &path.name)?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_case_insensitively_with_or_without_their_urn() {
        let r = USERS.resolve(&AttrPath::sub("NAME", "givenname")).unwrap();
        assert_eq!((r.attr.name, r.sub.map(|s| s.name)), ("name", Some("givenName")));
        let qualified = AttrPath { urn: Some(USER_SCHEMA.to_lowercase()), ..AttrPath::new("userName") };
        assert_eq!(USERS.resolve(&qualified).unwrap().attr.name, "userName");
        let dept = AttrPath { urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()), ..AttrPath::new("department") };
        assert_eq!(USERS.resolve(&dept).unwrap().extension, Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(USERS.resolve(&AttrPath::new("emails")).unwrap().target().name, "value");
    }

    #[test]
    fn unknown_names_urns_and_sub_attributes_resolve_to_nothing() {
        assert!(USERS.resolve(&AttrPath::new("password2")).is_none());
        assert!(USERS.resolve(&AttrPath::sub("name", "nick")).is_none());
        assert!(USERS.resolve(&AttrPath { urn: Some("urn:x:y".into()), ..AttrPath::new("userName") }).is_none());
        assert!(GROUPS.resolve(&AttrPath::new("userName")).is_none());
    }
}
