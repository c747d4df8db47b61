//! The parser and the policy against keys made by OpenSSH's `ssh-keygen` (8.x/9.x), with the fingerprints and
//! sizes it printed for them (`ssh-keygen -lf`): an independent implementation of the same format.
#![allow(clippy::unwrap_used)]

use super::*;

/// (key line, type, bits, fingerprint by `ssh-keygen -lf`)
const MADE_BY_SSH_KEYGEN: &[(&str, KeyType, u32, &str)] = &[
    (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhIhVlBJZKJIZhLVpeRnKGKANYDD02Lkze4k+cCAnOS test@k_ed25519_",
        KeyType::Ed25519,
        256,
        "SHA256:EJGlsdSu6zLAYmxiZ00LbMnSyIAzXx6d69ETbWnbiXw",
    ),
    (
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEo3BHOHwBjx7p68F3OYSz6+V+y6qEDcr/hiSMO+qyTSZSBfSB6BG8t6EtJPh27S/X9jzBkaFhXsHU9rf4KcRKU= test@k_ecdsa_256",
        KeyType::Ecdsa(256),
        256,
        "SHA256:wuOnBmuWNaj/p2dv/qvu1/3tvm1ju3TxmkkO+PCJ6TU",
    ),
    (
        "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBG6wuaV8PGBLSLYU2MqHDUxVb1LUsJkwLxYy6xEGJ8GsYQrUdP/rScK3kbdEv+hK1XzHlrx/OKbzaQBv2AHESb+F3+y74IN5RjfQXrgjs2z+x9REkWd4pb7lIT4qqljSGQ== test@k_ecdsa_384",
        KeyType::Ecdsa(384),
        384,
        "SHA256:mU8aFVpPe6VWFZMptxsQeEMD2h9ca8AXGoBN5zCS80c",
    ),
    (
        "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAH6SPyOL/6jnP+HmnBlsDksdWhHcfWlAW72FIRQHZWu+UO8Q64s8rXZxLU/nYPPCdF6dAa2KmUhwIF+9PeogyBWRAHryixWtmZG8f2gnopDYmaj6is6NCukMxeDfqB1OKXgi8bS9YMQbWh/FKIwKSBRjQ3Uf6kY89ec6++xifS1H31FSQ== test@k_ecdsa_521",
        KeyType::Ecdsa(521),
        521,
        "SHA256:GL6t/fT2s4WrCY4WSNye8MdLIv7SN2ZS473G+lnbAs4",
    ),
    (
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCpG9d1OjjMKhFbB3kt2/NlM4xybM7t8bJqSToIq+sq7poIFTCJ+v21RXOiYsPsHl2r0/2cSU8O24J3RKZG+KrzexBAnNOaF0xzWDniSUGYgQX6bRwI25jcwwxvpFQzxhilHUUCPO5JcmnoD+74MFqg6ce3IwuuuXD8cJmyW5z3Y2BRwEYOq5HWrv7JrRn8mc3g/Jt1YDgcPdlFka1tCLpusr1OzT2xHMsg0j73M8hjxnPX+ErkrwXHCJqVxrjadHamGmuX2CnlV1nAhmApSiz/AIP0BGQ5ClvqqTs/Gtqm3uThcXbgtZMUqGK5efXGCoEn67HZs60Hk2OugDIWm3of test@k_rsa_2048",
        KeyType::Rsa,
        2048,
        "SHA256:zFktUR01TT8wu4BhgHJyVYAOHGOaZGqoWbReXFSb6B8",
    ),
    (
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC9CjYjGNCbPohAVaAHiTZ8FmkAkSXM3A7WhPdlxw3LhYmo5VGtsnyO3GSg5zmDmmc9cCdTtxz3BejlCihwArwTYSYH4FzUZpxZbBsyQnpopvPOIzFxnZt4GmAgOOhEwGDtVP7nmRRTcKKEokRXcvCZ2Jg830WQqA5+DJISgNjrJZwvqhHnUwLplEdX9jFQL8S74t+cBGwvAjeWygglVzc5/1RobuUVuc3lPpXEdXGgJS9JHDuJTrodG45zmCiLlnE3FidAuy04ic7jLm24QfZTSHk+dTKy64r+kBgKWd+k71bLIkjiaRYD2tdRWIvZR9yLwDMLoWXPCqR4iu8A21DjyrFtWBnOJCLAKm7iyVPdC3BgGDBWm/sbzt6M+1vbU2RPw3iqgISGQqZYFFzKjYyPP8754kt0CTmlUr0qPQVBLixV/OuF+x1iG9F0QeNeoiojJq0d6kR7SSNmxQr4SBkjeRaD9LVq6f5Mv6nlKmCJYbw/LD9y5PALOJs+j0iSGkk= test@k_rsa_3072",
        KeyType::Rsa,
        3072,
        "SHA256:llqj1HAq5V2TU/Kmdb0qPojs4ovNnv0X5YHAcxQghZE",
    ),
    (
        "ssh-dss AAAAB3NzaC1kc3MAAACBAIVlvDBZsER3okdfRhOK1zZZrNzMHKC9xhV0FNPzCK5H97LOLLZKkMmsRjhzC+v2r+7pALga262vijJA6cS8TcKYJ/ei7QF3NH4DMy76ut+JzKUKvu2GHDTd/x97f7Oav8SbgCrOFRNb7DNIIRkemghLbwmk1FUl1Aw1g2cjo0+jAAAAFQDLIxGvV3MnKx+jYyiXtDpLbpdU1wAAAIBPI0c3tRlIT6x7JWD63g4s0ewWUT+gEJzMVIr8JVvfyhWLfweu/ouGJauAN0yN/2YVctti9xXDVrRWXebZyZwJgskk+YU3MiFUTuRSJwzhpfjM+KM+tYf65YF8uDMjx1BSYWdk6sTzZ6Xvm1VyZDV9D5RumSgOlHMTtiJxk70zzwAAAIAMyTdY6Mpb1eGWEGDZjtu8TtWMUiI+Uzz3zPJob5CPNK1VaYbTsy4JJdPUGxYhIgIRpCz4MBZzUCeJxWhA7sE4YB1hRcG7zy/5W1kHLiXNwuiz60EnxR+Y6AFgUJWyQ685JsCpdpHdKc+lrlCmjLEhLsU/xKq6bOEYYFk9NirJ6Q== root@vm",
        KeyType::Dsa,
        1024,
        "SHA256:k3xT5TJNlBQzmWE1nTqCCV1gB3sEdRAmyYQpzZRvse4",
    ),
    (
        "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fAAAABHNzaDo= yubikey",
        KeyType::SkEd25519,
        256,
        "SHA256:/p0CbeE3dk2SyW1OXXsThGc12ezDVD8eGw2/vtztDfk",
    ),
];

#[test]
fn keys_parse_with_the_size_and_fingerprint_ssh_keygen_gives() {
    for (line, key_type, bits, fingerprint) in MADE_BY_SSH_KEYGEN {
        let key = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!((&key.key_type, key.bits, key.fingerprint.as_str()), (key_type, *bits, *fingerprint), "{line}");
        assert_eq!(format!("{} {}", key.openssh(), key.comment), line.trim());
    }
}

#[test]
fn the_policy_refuses_dsa_short_rsa_and_non_security_keys_when_asked() {
    let verdicts: Vec<(u32, bool, bool)> = MADE_BY_SSH_KEYGEN
        .iter()
        .map(|(line, _, bits, _)| {
            let key = parse(line).unwrap();
            (*bits, KeyPolicy::Standard.check(&key).is_ok(), KeyPolicy::SecurityKeysOnly.check(&key).is_ok())
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (256, true, false),   // ed25519
            (256, true, false),   // ECDSA P-256
            (384, true, false),   // ECDSA P-384
            (521, true, false),   // ECDSA P-521
            (2048, false, false), // RSA 2048: too short
            (3072, true, false),  // RSA 3072
            (1024, false, false), // DSA
            (256, true, true),    // sk-ssh-ed25519
        ]
    );
    let rsa = parse(MADE_BY_SSH_KEYGEN[4].0).unwrap();
    assert!(KeyPolicy::Standard.check(&rsa).unwrap_err().contains("3072"));
    let dsa = parse(MADE_BY_SSH_KEYGEN[6].0).unwrap();
    assert!(KeyPolicy::Standard.check(&dsa).unwrap_err().contains("DSA"));
}

#[test]
fn malformed_lines_are_refused_with_a_reason() {
    let ed = MADE_BY_SSH_KEYGEN[0].0;
    let data = ed.split(' ').nth(1).unwrap();
    for (line, want) in [
        ("", KeyError::Shape),
        ("ssh-ed25519", KeyError::Shape),
        ("ssh-ed25519 not*base64", KeyError::Base64),
        (&format!("ssh-rsa {data}") as &str, KeyError::Blob), // the name says RSA, the blob says ed25519
        (&format!("command=\"sh\" ssh-ed25519 {data}") as &str, KeyError::Shape), // authorized_keys options
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhIhVlB", KeyError::Blob), // truncated
        ("ssh-foo AAAAB3NzaC1mb28=", KeyError::Unsupported("ssh-foo".to_owned())),
    ] {
        assert_eq!(parse(line).err(), Some(want), "{line:?}");
    }
    // Bytes after the key are refused too.
    let mut blob = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
    blob.push(0);
    let padded = format!("ssh-ed25519 {}", base64::engine::general_purpose::STANDARD.encode(&blob));
    assert_eq!(parse(&padded).err(), Some(KeyError::Blob));
    assert_eq!(parse(&format!("{ed}\nssh-ed25519 {data}")).err(), Some(KeyError::Shape), "one line only");
}
