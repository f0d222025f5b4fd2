//! Tokens of DynamoDB's expression language, with byte spans so syntax errors can quote the
//! source the way DynamoDB does (`token: ":w", near: ":v :w"`).

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare attribute name, keyword or function name.
    Ident(String),
    /// `#name`, resolved through ExpressionAttributeNames.
    Name(String),
    /// `:value`, resolved through ExpressionAttributeValues.
    Value(String),
    /// Digits (list indexes).
    Int(String),
    Punct(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// Where the lexer gave up: the offending character's span.
#[derive(Debug)]
pub struct LexError {
    pub start: usize,
    pub end: usize,
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let word_end = |from: usize| src[from..].find(|c: char| !is_word(c)).map_or(src.len(), |i| from + i);
        let (tok, end) = match c {
            '#' | ':' => {
                let end = word_end(start + 1);
                if end == start + 1 {
                    return Err(LexError { start, end: start + 1 });
                }
                let text = src[start..end].to_string();
                (if c == '#' { Tok::Name(text) } else { Tok::Value(text) }, end)
            }
            c if c.is_ascii_digit() => {
                let end = src[start..].find(|c: char| !c.is_ascii_digit()).map_or(src.len(), |i| start + i);
                (Tok::Int(src[start..end].to_string()), end)
            }
            c if is_word(c) => {
                let end = word_end(start);
                (Tok::Ident(src[start..end].to_string()), end)
            }
            _ => {
                let two = src.get(start..start + 2).unwrap_or("");
                let punct: &'static str = match two {
                    "<>" => "<>",
                    "<=" => "<=",
                    ">=" => ">=",
                    _ => match c {
                        '(' => "(",
                        ')' => ")",
                        '[' => "[",
                        ']' => "]",
                        ',' => ",",
                        '.' => ".",
                        '=' => "=",
                        '<' => "<",
                        '>' => ">",
                        '+' => "+",
                        '-' => "-",
                        _ => return Err(LexError { start, end: start + c.len_utf8() }),
                    },
                };
                (Tok::Punct(punct), start + punct.len())
            }
        };
        out.push(Token { tok, start, end });
        while chars.peek().is_some_and(|&(i, _)| i < end) {
            chars.next();
        }
    }
    out.push(Token { tok: Tok::Eof, start: src.len(), end: src.len() });
    Ok(out)
}
