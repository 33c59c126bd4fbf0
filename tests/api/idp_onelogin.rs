//! OneLogin (IDP-BEHAVIOURS.md §3).
