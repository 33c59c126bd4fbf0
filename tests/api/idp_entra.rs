//! Entra ID (IDP-BEHAVIOURS.md §2).
