//! Authentication: challenge parsing and credential lookup.

mod challenge;
mod credentials;

pub use challenge::{parse_all, parse_challenges, Challenge};
pub use credentials::{
    default_auth_files, lookup as lookup_credentials, CredentialError, Credentials, Secret,
};
