//! A tenant and its people: tenants, members, invitations, the ways in they made (`doors`), erasure, closing the tenant, the panic button and
//! the overview page's figures.

pub mod closure;
pub mod doors;
pub mod erasure;
pub mod invitations;
pub mod members;
pub mod overview;
pub mod panic;
pub mod tenants;
