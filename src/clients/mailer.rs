//! Outgoing mail: SMTP through lettre (`SMTP_URL=smtp://host:port`, `smtps://…`), or the log.

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType},
};

use crate::config::SmtpTarget;

/// A rendered email.
#[derive(Debug, Clone)]
pub struct Email {
    pub to_name: String,
    pub to_address: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Images the HTML shows with `cid:` addresses (the tickets' QR codes).
    pub inline_images: Vec<InlineImage>,
    /// The `Message-ID` header: the outbox message's, so that a second copy (sent again after
    /// a crash between the server's acceptance and the delivery record) is the same message to
    /// the recipient's mail system. `None`: one is generated.
    pub message_id: Option<String>,
}

/// A PNG image sent inside an email, shown by `<img src="cid:{content_id}">`.
#[derive(Debug, Clone)]
pub struct InlineImage {
    pub content_id: String,
    pub png: Vec<u8>,
}

pub enum Mailer {
    Log { from: Mailbox },
    Smtp { from: Mailbox, transport: AsyncSmtpTransport<Tokio1Executor> },
}

impl Mailer {
    pub fn new(target: &SmtpTarget, from: &str) -> anyhow::Result<Mailer> {
        let from: Mailbox = from.parse().map_err(|e| anyhow::anyhow!("MAIL_FROM: {e}"))?;
        Ok(match target {
            SmtpTarget::Log => Mailer::Log { from },
            SmtpTarget::Smtp(url) => Mailer::Smtp {
                from,
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                    .timeout(Some(std::time::Duration::from_secs(15)))
                    .build(),
            },
        })
    }

    pub async fn send(&self, email: &Email) -> anyhow::Result<()> {
        match self {
            Mailer::Log { .. } => {
                // The address stays out of the log; the content is what a developer needs.
                tracing::info!(to = %mask(&email.to_address), subject = %email.subject, body = %email.text, "email (SMTP_URL=log)");
                Ok(())
            }
            Mailer::Smtp { from, transport } => {
                let to = Mailbox::new(Some(email.to_name.clone()), email.to_address.parse()?);
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&email.subject)
                    .message_id(email.message_id.clone())
                    .multipart(body(email))?;
                transport.send(message).await?;
                Ok(())
            }
        }
    }
}

/// Plain text and HTML as alternatives; the HTML with its inline images as one related part.
fn body(email: &Email) -> MultiPart {
    if email.inline_images.is_empty() {
        return MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    }
    let png = ContentType::parse("image/png").expect("a valid content type");
    let related = email.inline_images.iter().fold(
        MultiPart::related().singlepart(SinglePart::html(email.html.clone())),
        |related, image| {
            related.singlepart(
                Attachment::new_inline_with_name(
                    image.content_id.clone(),
                    format!("{}.png", image.content_id),
                )
                .body(image.png.clone(), png.clone()),
            )
        },
    );
    MultiPart::alternative().singlepart(SinglePart::plain(email.text.clone())).multipart(related)
}

/// `fan@example.com` → `f***@example.com`.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}
