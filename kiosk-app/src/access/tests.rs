use super::*;

#[test]
fn keypad_keys_and_keyboard_keys_map_to_what_they_do() {
    use slint::platform::Key;
    let k = |key: Key| Pad::from_key(&char::from(key).to_string());
    assert_eq!(k(Key::UpArrow), Some(Pad::Up));
    assert_eq!(k(Key::Return), Some(Pad::Activate));
    assert_eq!(k(Key::Escape), Some(Pad::Back));
    assert_eq!(k(Key::F1), Some(Pad::Help));
    let pad: Vec<_> = "82465-*/0.7913"
        .chars()
        .map(|c| Pad::from_key(&c.to_string()))
        .collect();
    assert_eq!(
        pad,
        [
            Pad::Up,
            Pad::Down,
            Pad::Left,
            Pad::Right,
            Pad::Activate,
            Pad::Back,
            Pad::Help,
            Pad::Repeat,
            Pad::Stop,
            Pad::Privacy,
            Pad::Slower,
            Pad::Faster,
            Pad::Quieter,
            Pad::Louder
        ]
        .map(Some)
    );
    assert_eq!(Pad::from_key("q"), None);
    assert_eq!(Pad::from_key("ab"), None);
    assert_eq!(Pad::from_key(""), None);
}

#[test]
fn a_typed_value_is_hidden_without_a_headset_and_private_with_one() {
    let mut field = Control {
        id: "field:0".into(),
        act: Act::Field(0),
        role: Role::TextField,
        label: "Jméno".into(),
        value: "Jana".into(),
        private: true,
        checked: None,
        required: true,
        error: String::new(),
        key_at: None,
    };
    let mut a = Access::new();
    assert_eq!(
        a.describe(&field, Lang::Cs),
        ("Jméno, textové pole, skryto, povinné".to_owned(), false)
    );
    a.headset = true;
    assert_eq!(
        a.describe(&field, Lang::En),
        ("Jméno, text field, Jana, required".to_owned(), true)
    );
    field.value.clear();
    field.error = "Vyplňte prosím.".into();
    assert_eq!(
        a.describe(&field, Lang::Uk).0,
        "Jméno, текстове поле, порожнє, обов'язкове, Vyplňte prosím."
    );
}

#[test]
fn sentences_get_one_full_stop_each() {
    assert_eq!(
        sentences([
            "Vítejte".to_owned(),
            "Krok 1 z 2".into(),
            String::new(),
            "Hotovo?".into()
        ]),
        "Vítejte. Krok 1 z 2. Hotovo?"
    );
}
