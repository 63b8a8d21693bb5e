//! Delivering one alert to one channel, rendered for its format ([`render`]).

pub mod render;
