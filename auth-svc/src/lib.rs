//! Aerie auth service: not built yet; its issue builds it here.
