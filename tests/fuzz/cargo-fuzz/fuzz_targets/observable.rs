#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liaison_fuzz::observable(data));
