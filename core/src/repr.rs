//! Enums with fixed numeric values (the C API's `SMEM_*` values, stored state codes):
//! each is declared once through `u8_enum!`, which also derives its decoder, so no
//! value table is written twice.

/// Declares a fieldless `repr(u8)` enum and its decoders from the one list of
/// variants: `TryFrom<u8>` (unknown values are `Error::Inval`) and the `const` form
/// `from_u8`.
macro_rules! u8_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[repr(u8)]
        $vis enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// The variant with value `v`, if any (the `const` form of `TryFrom<u8>`).
            #[allow(dead_code)] // not every enum is decoded in a const context
            $vis const fn from_u8(v: u8) -> Option<Self> {
                $(if v == $value {
                    return Some(Self::$variant);
                })+
                None
            }
        }

        impl TryFrom<u8> for $name {
            type Error = crate::Error;

            fn try_from(v: u8) -> core::result::Result<Self, crate::Error> {
                Self::from_u8(v).ok_or(crate::Error::Inval)
            }
        }
    };
}

pub(crate) use u8_enum;

#[cfg(test)]
mod tests {
    use crate::{
        AutoOnline, BlockState, Error, MemEvent, OnlineType, PfnKind, Phase, RangeKind, Zone,
    };

    /// Every value decodes to the variant that encodes to it, and nothing else decodes.
    fn round_trips<T: TryFrom<u8, Error = Error> + Copy + PartialEq + core::fmt::Debug>(
        encode: impl Fn(T) -> u8,
    ) -> usize {
        let mut n = 0;
        for v in 0..=u8::MAX {
            if let Ok(t) = T::try_from(v) {
                assert_eq!(encode(t), v);
                n += 1;
            }
        }
        n
    }

    #[test]
    fn every_enum_decodes_exactly_its_own_values() {
        assert_eq!(round_trips::<Zone>(|z| z as u8), 6);
        assert_eq!(round_trips::<BlockState>(|s| s as u8), 4);
        assert_eq!(round_trips::<OnlineType>(|t| t as u8), 3);
        assert_eq!(round_trips::<AutoOnline>(|a| a as u8), 4);
        assert_eq!(round_trips::<Phase>(|p| p as u8), 3);
        assert_eq!(round_trips::<MemEvent>(|e| e as u8), 6);
        assert_eq!(round_trips::<PfnKind>(|k| k as u8), 3);
        assert!(round_trips::<RangeKind>(|k| k as u8) >= 3);
        assert_eq!(BlockState::try_from(3), Err(Error::Inval));
    }
}
