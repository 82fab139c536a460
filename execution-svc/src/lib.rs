//! Aerie execution service: not built yet; its issue builds it here.
