//! One module per aggregate, one function per command. Reads take a [`crate::service::Read`];
//! writes take a [`crate::mutation::Mutation`] and record every change they make through it.

pub mod activity;
pub(crate) mod comment;
pub(crate) mod dependency;
pub(crate) mod member;
pub(crate) mod project;
pub(crate) mod sprint;
pub(crate) mod sync;
pub(crate) mod time;
pub(crate) mod work_item;
