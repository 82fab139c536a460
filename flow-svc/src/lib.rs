//! Aerie flow service: not built yet; its issue builds it here.
