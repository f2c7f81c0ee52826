//! The texts: English, German, French, Spanish (the order of `Language::ALL`). `{name}` is a placeholder for a
//! value of the message's params; each table is sorted by key.

use super::Texts;

/// Problem `title`s, by status.
pub(super) const TITLES: &[(u16, Texts)] = &[
    (
        400,
        [
            "Bad Request",
            "Ungültige Anfrage",
            "Requête incorrecte",
            "Solicitud incorrecta",
        ],
    ),
    (
        401,
        [
            "Unauthorized",
            "Nicht authentifiziert",
            "Non authentifié",
            "No autenticado",
        ],
    ),
    (403, ["Forbidden", "Verboten", "Interdit", "Prohibido"]),
    (
        404,
        [
            "Not Found",
            "Nicht gefunden",
            "Introuvable",
            "No encontrado",
        ],
    ),
    (
        405,
        [
            "Method Not Allowed",
            "Methode nicht erlaubt",
            "Méthode non autorisée",
            "Método no permitido",
        ],
    ),
    (409, ["Conflict", "Konflikt", "Conflit", "Conflicto"]),
    (
        410,
        ["Gone", "Nicht mehr vorhanden", "Supprimé", "Eliminado"],
    ),
    (
        412,
        [
            "Precondition Failed",
            "Vorbedingung nicht erfüllt",
            "Échec de la précondition",
            "Falló la condición previa",
        ],
    ),
    (
        413,
        [
            "Payload Too Large",
            "Inhalt zu groß",
            "Contenu trop volumineux",
            "Contenido demasiado grande",
        ],
    ),
    (
        415,
        [
            "Unsupported Media Type",
            "Nicht unterstützter Medientyp",
            "Type de média non pris en charge",
            "Tipo de medio no admitido",
        ],
    ),
    (
        422,
        [
            "Unprocessable Entity",
            "Nicht verarbeitbarer Inhalt",
            "Contenu non traitable",
            "Contenido no procesable",
        ],
    ),
    (
        429,
        [
            "Too Many Requests",
            "Zu viele Anfragen",
            "Trop de requêtes",
            "Demasiadas solicitudes",
        ],
    ),
    (
        500,
        [
            "Internal Server Error",
            "Interner Serverfehler",
            "Erreur interne du serveur",
            "Error interno del servidor",
        ],
    ),
    (
        503,
        [
            "Service Unavailable",
            "Dienst nicht verfügbar",
            "Service indisponible",
            "Servicio no disponible",
        ],
    ),
];

/// Problem `detail`s, by problem `code`, or `code.variant` where one code has several explanations.
pub(super) const PROBLEMS: &[(&str, Texts)] = &[
    (
        "address_erased",
        [
            "this address was erased with its user's profile; none of its revisions can be read",
            "diese Adresse wurde mit dem Profil ihres Nutzers gelöscht; keine ihrer Revisionen kann gelesen werden",
            "cette adresse a été effacée avec le profil de son utilisateur ; aucune de ses révisions ne peut être lue",
            "esta dirección se borró con el perfil de su usuario; no se puede leer ninguna de sus revisiones",
        ],
    ),
    (
        "address_format_not_found",
        [
            "no address format for this country: use an ISO 3166-1 alpha-2 code in upper case, e.g. GB",
            "kein Adressformat für dieses Land: verwenden Sie einen ISO-3166-1-Alpha-2-Code in Großbuchstaben, z. B. GB",
            "aucun format d'adresse pour ce pays : utilisez un code ISO 3166-1 alpha-2 en majuscules, par ex. GB",
            "no hay formato de dirección para este país: use un código ISO 3166-1 alfa-2 en mayúsculas, p. ej. GB",
        ],
    ),
    (
        "address_history_full",
        [
            "your addresses have 5000 revisions, kept for your orders until you erase your profile; addresses can still be deleted, but not added or changed",
            "Ihre Adressen haben 5000 Revisionen, die für Ihre Bestellungen aufbewahrt werden, bis Sie Ihr Profil löschen; Adressen können noch gelöscht, aber nicht hinzugefügt oder geändert werden",
            "vos adresses ont 5000 révisions, conservées pour vos commandes jusqu'à l'effacement de votre profil ; les adresses peuvent encore être supprimées, mais pas ajoutées ni modifiées",
            "sus direcciones tienen 5000 revisiones, conservadas para sus pedidos hasta que borre su perfil; las direcciones aún se pueden eliminar, pero no añadir ni modificar",
        ],
    ),
    (
        "address_limit_reached",
        [
            "a user can have at most 50 addresses; delete one first",
            "ein Nutzer kann höchstens 50 Adressen haben; löschen Sie zuerst eine",
            "un utilisateur peut avoir au plus 50 adresses ; supprimez-en d'abord une",
            "un usuario puede tener como máximo 50 direcciones; elimine una primero",
        ],
    ),
    (
        "address_not_found",
        [
            "no such address exists for this user",
            "für diesen Nutzer gibt es diese Adresse nicht",
            "cette adresse n'existe pas pour cet utilisateur",
            "esta dirección no existe para este usuario",
        ],
    ),
    (
        "auth_service_unavailable",
        [
            "the auth service is unavailable; try again shortly",
            "der Authentifizierungsdienst ist nicht erreichbar; versuchen Sie es gleich noch einmal",
            "le service d'authentification est indisponible ; réessayez dans un instant",
            "el servicio de autenticación no está disponible; inténtelo de nuevo en breve",
        ],
    ),
    (
        "consent_history_full",
        [
            "your preferences hold 1000 consent records, kept until you erase your profile; opt-outs are still recorded, new opt-ins are not",
            "Ihre Einstellungen enthalten 1000 Einwilligungsnachweise, die bis zur Löschung Ihres Profils aufbewahrt werden; Widerrufe werden weiter erfasst, neue Einwilligungen nicht",
            "vos préférences contiennent 1000 enregistrements de consentement, conservés jusqu'à l'effacement de votre profil ; les retraits sont encore enregistrés, les nouveaux consentements non",
            "sus preferencias contienen 1000 registros de consentimiento, conservados hasta que borre su perfil; las revocaciones se siguen registrando, los nuevos consentimientos no",
        ],
    ),
    (
        "cursor_expired",
        [
            "the events after this cursor are past the feed's retention; start again without `after` (from the oldest event kept) and reconcile from the API",
            "die Ereignisse nach diesem Cursor liegen außerhalb der Aufbewahrungsfrist des Feeds; beginnen Sie ohne `after` neu (ab dem ältesten aufbewahrten Ereignis) und gleichen Sie über die API ab",
            "les événements après ce curseur ont dépassé la durée de conservation du flux ; recommencez sans `after` (depuis le plus ancien événement conservé) et resynchronisez via l'API",
            "los eventos posteriores a este cursor superan la retención del flujo; empiece de nuevo sin `after` (desde el evento más antiguo conservado) y concilie mediante la API",
        ],
    ),
    (
        "email_taken",
        [
            "another profile already uses this email address",
            "ein anderes Profil verwendet diese E-Mail-Adresse bereits",
            "un autre profil utilise déjà cette adresse e-mail",
            "otro perfil ya usa esta dirección de correo electrónico",
        ],
    ),
    (
        "forbidden",
        [
            "this token may not do this",
            "dieses Token darf das nicht",
            "ce jeton n'y est pas autorisé",
            "este token no puede hacer esto",
        ],
    ),
    (
        "forbidden.admin_only",
        [
            "this operation needs role admin",
            "dieser Vorgang erfordert die Rolle admin",
            "cette opération nécessite le rôle admin",
            "esta operación requiere el rol admin",
        ],
    ),
    (
        "forbidden.event_reader",
        [
            "the change feed needs role service or admin, or scope events:read",
            "der Änderungs-Feed erfordert die Rolle service oder admin oder den Scope events:read",
            "le flux des changements nécessite le rôle service ou admin, ou le scope events:read",
            "el flujo de cambios requiere el rol service o admin, o el scope events:read",
        ],
    ),
    (
        "forbidden.other_user",
        [
            "this token may not read this user's data",
            "dieses Token darf die Daten dieses Nutzers nicht lesen",
            "ce jeton ne peut pas lire les données de cet utilisateur",
            "este token no puede leer los datos de este usuario",
        ],
    ),
    (
        "forbidden.sensitive_fields",
        [
            "date_of_birth and phone need scope profiles:read_sensitive (or role service or admin)",
            "date_of_birth und phone erfordern den Scope profiles:read_sensitive (oder die Rolle service oder admin)",
            "date_of_birth et phone nécessitent le scope profiles:read_sensitive (ou le rôle service ou admin)",
            "date_of_birth y phone requieren el scope profiles:read_sensitive (o el rol service o admin)",
        ],
    ),
    (
        "forbidden.users_only",
        [
            "/profiles/me is for users: this token has no role user (services and admins use /users/... and /admin)",
            "/profiles/me ist für Nutzer: dieses Token hat nicht die Rolle user (Dienste und Admins verwenden /users/... und /admin)",
            "/profiles/me est réservé aux utilisateurs : ce jeton n'a pas le rôle user (services et admins utilisent /users/... et /admin)",
            "/profiles/me es para usuarios: este token no tiene el rol user (los servicios y administradores usan /users/... y /admin)",
        ],
    ),
    (
        "idempotency_in_progress",
        [
            "a request with this Idempotency-Key is still running; retry when it has finished to get its answer",
            "eine Anfrage mit diesem Idempotency-Key läuft noch; wiederholen Sie sie nach ihrem Ende, um ihre Antwort zu erhalten",
            "une requête avec cette Idempotency-Key est encore en cours ; réessayez quand elle sera terminée pour obtenir sa réponse",
            "una solicitud con esta Idempotency-Key aún está en curso; reintente cuando haya terminado para obtener su respuesta",
        ],
    ),
    (
        "idempotency_key_reused",
        [
            "this Idempotency-Key was used with another request; send a new key with each new request",
            "dieser Idempotency-Key wurde mit einer anderen Anfrage verwendet; senden Sie mit jeder neuen Anfrage einen neuen Schlüssel",
            "cette Idempotency-Key a servi pour une autre requête ; envoyez une nouvelle clé avec chaque nouvelle requête",
            "esta Idempotency-Key se usó con otra solicitud; envíe una clave nueva con cada solicitud nueva",
        ],
    ),
    (
        "idempotency_key_reused.body",
        [
            "this Idempotency-Key was used with another body; send a new key with each new request",
            "dieser Idempotency-Key wurde mit einem anderen Body verwendet; senden Sie mit jeder neuen Anfrage einen neuen Schlüssel",
            "cette Idempotency-Key a servi avec un autre corps ; envoyez une nouvelle clé avec chaque nouvelle requête",
            "esta Idempotency-Key se usó con otro cuerpo; envíe una clave nueva con cada solicitud nueva",
        ],
    ),
    (
        "idempotency_key_reused.operation",
        [
            "this Idempotency-Key was used for another operation (method or path); send a new key with each new request",
            "dieser Idempotency-Key wurde für einen anderen Vorgang (Methode oder Pfad) verwendet; senden Sie mit jeder neuen Anfrage einen neuen Schlüssel",
            "cette Idempotency-Key a servi pour une autre opération (méthode ou chemin) ; envoyez une nouvelle clé avec chaque nouvelle requête",
            "esta Idempotency-Key se usó para otra operación (método o ruta); envíe una clave nueva con cada solicitud nueva",
        ],
    ),
    (
        "internal_error",
        [
            "an internal error occurred",
            "ein interner Fehler ist aufgetreten",
            "une erreur interne s'est produite",
            "se produjo un error interno",
        ],
    ),
    (
        "invalid_token",
        [
            "the bearer token is not valid",
            "das Bearer-Token ist ungültig",
            "le jeton bearer n'est pas valide",
            "el token bearer no es válido",
        ],
    ),
    (
        "kept_suspension_not_found",
        [
            "no suspension is kept for this user (one is kept only when a suspended profile is erased)",
            "für diesen Nutzer ist keine Sperre aufbewahrt (eine Sperre wird nur aufbewahrt, wenn ein gesperrtes Profil gelöscht wird)",
            "aucune suspension n'est conservée pour cet utilisateur (elle ne l'est que lorsqu'un profil suspendu est effacé)",
            "no se conserva ninguna suspensión para este usuario (solo se conserva cuando se borra un perfil suspendido)",
        ],
    ),
    (
        "malformed_json",
        [
            "the body is not valid JSON (line {line}, column {column})",
            "der Body ist kein gültiges JSON (Zeile {line}, Spalte {column})",
            "le corps n'est pas du JSON valide (ligne {line}, colonne {column})",
            "el cuerpo no es JSON válido (línea {line}, columna {column})",
        ],
    ),
    (
        "malformed_json.unreadable",
        [
            "the request body could not be read",
            "der Body der Anfrage konnte nicht gelesen werden",
            "le corps de la requête n'a pas pu être lu",
            "no se pudo leer el cuerpo de la solicitud",
        ],
    ),
    (
        "method_not_allowed",
        [
            "this method is not allowed on this resource",
            "diese Methode ist für diese Ressource nicht erlaubt",
            "cette méthode n'est pas autorisée sur cette ressource",
            "este método no está permitido en este recurso",
        ],
    ),
    (
        "not_found",
        [
            "no resource at this path",
            "unter diesem Pfad gibt es keine Ressource",
            "aucune ressource à ce chemin",
            "no hay ningún recurso en esta ruta",
        ],
    ),
    (
        "payload_too_large",
        [
            "the request body is larger than 64 KiB",
            "der Body der Anfrage ist größer als 64 KiB",
            "le corps de la requête dépasse 64 Kio",
            "el cuerpo de la solicitud supera los 64 KiB",
        ],
    ),
    (
        "precondition_failed",
        [
            "the precondition does not hold: the resource is at another version (current_version), or If-Match is not * or a list of strong entity tags such as \"3\"",
            "die Vorbedingung ist nicht erfüllt: die Ressource hat eine andere Version (current_version), oder If-Match ist weder * noch eine Liste starker Entity-Tags wie \"3\"",
            "la précondition n'est pas remplie : la ressource est à une autre version (current_version), ou If-Match n'est ni * ni une liste d'entity tags forts comme \"3\"",
            "la condición previa no se cumple: el recurso está en otra versión (current_version), o If-Match no es * ni una lista de entity tags fuertes como \"3\"",
        ],
    ),
    (
        "profile_erased",
        [
            "this user's profile was erased; nothing is held about them",
            "das Profil dieses Nutzers wurde gelöscht; über ihn wird nichts mehr gespeichert",
            "le profil de cet utilisateur a été effacé ; plus rien n'est conservé à son sujet",
            "el perfil de este usuario se borró; no se conserva nada sobre él",
        ],
    ),
    (
        "profile_exists",
        [
            "the profile was created by a concurrent request; read it and retry",
            "das Profil wurde von einer gleichzeitigen Anfrage angelegt; lesen Sie es und versuchen Sie es erneut",
            "le profil a été créé par une requête concurrente ; lisez-le et réessayez",
            "el perfil lo creó una solicitud simultánea; léalo y vuelva a intentarlo",
        ],
    ),
    (
        "profile_not_found",
        [
            "no profile exists for this user",
            "für diesen Nutzer gibt es kein Profil",
            "aucun profil n'existe pour cet utilisateur",
            "no existe ningún perfil para este usuario",
        ],
    ),
    (
        "profile_suspended",
        [
            "this profile is suspended; it can be read, exported and erased, but not changed",
            "dieses Profil ist gesperrt; es kann gelesen, exportiert und gelöscht, aber nicht geändert werden",
            "ce profil est suspendu ; il peut être lu, exporté et effacé, mais pas modifié",
            "este perfil está suspendido; se puede leer, exportar y borrar, pero no modificar",
        ],
    ),
    (
        "rate_limited",
        [
            "this caller has used its requests for this minute; try again in {reset_secs} s",
            "dieser Aufrufer hat seine Anfragen für diese Minute verbraucht; versuchen Sie es in {reset_secs} s erneut",
            "cet appelant a épuisé ses requêtes pour cette minute ; réessayez dans {reset_secs} s",
            "este cliente ha agotado sus solicitudes de este minuto; inténtelo de nuevo en {reset_secs} s",
        ],
    ),
    (
        "rate_limited.reads",
        [
            "this caller has used its {limit} reads a minute; try again in {reset_secs} s",
            "dieser Aufrufer hat seine {limit} Lesezugriffe pro Minute verbraucht; versuchen Sie es in {reset_secs} s erneut",
            "cet appelant a épuisé ses {limit} lectures par minute ; réessayez dans {reset_secs} s",
            "este cliente ha agotado sus {limit} lecturas por minuto; inténtelo de nuevo en {reset_secs} s",
        ],
    ),
    (
        "rate_limited.writes",
        [
            "this caller has used its {limit} writes a minute; try again in {reset_secs} s",
            "dieser Aufrufer hat seine {limit} Schreibzugriffe pro Minute verbraucht; versuchen Sie es in {reset_secs} s erneut",
            "cet appelant a épuisé ses {limit} écritures par minute ; réessayez dans {reset_secs} s",
            "este cliente ha agotado sus {limit} escrituras por minuto; inténtelo de nuevo en {reset_secs} s",
        ],
    ),
    (
        "reauthentication_required",
        [
            "log in again: erasing your profile or changing your email needs a login at most {max_age_secs} seconds old",
            "melden Sie sich erneut an: das Löschen Ihres Profils oder das Ändern Ihrer E-Mail-Adresse erfordert eine Anmeldung, die höchstens {max_age_secs} Sekunden zurückliegt",
            "reconnectez-vous : effacer votre profil ou changer votre e-mail nécessite une connexion datant d'au plus {max_age_secs} secondes",
            "vuelva a iniciar sesión: borrar su perfil o cambiar su correo requiere un inicio de sesión de hace como máximo {max_age_secs} segundos",
        ],
    ),
    (
        "request_timeout",
        [
            "the request could not be served in time",
            "die Anfrage konnte nicht rechtzeitig bearbeitet werden",
            "la requête n'a pas pu être traitée à temps",
            "la solicitud no se pudo atender a tiempo",
        ],
    ),
    (
        "revision_not_found",
        [
            "this address has no such revision",
            "diese Adresse hat keine solche Revision",
            "cette adresse n'a pas cette révision",
            "esta dirección no tiene esa revisión",
        ],
    ),
    (
        "service_unavailable",
        [
            "the database is unavailable; try again shortly",
            "die Datenbank ist nicht erreichbar; versuchen Sie es gleich noch einmal",
            "la base de données est indisponible ; réessayez dans un instant",
            "la base de datos no está disponible; inténtelo de nuevo en breve",
        ],
    ),
    (
        "token_expired",
        [
            "the bearer token has expired",
            "das Bearer-Token ist abgelaufen",
            "le jeton bearer a expiré",
            "el token bearer ha caducado",
        ],
    ),
    (
        "unauthorized",
        [
            "no bearer token was sent",
            "es wurde kein Bearer-Token gesendet",
            "aucun jeton bearer n'a été envoyé",
            "no se envió ningún token bearer",
        ],
    ),
    (
        "unsupported_media_type",
        [
            "send the body as application/json",
            "senden Sie den Body als application/json",
            "envoyez le corps en application/json",
            "envíe el cuerpo como application/json",
        ],
    ),
    (
        "unsupported_media_type.merge_patch",
        [
            "send the patch as application/merge-patch+json or application/json",
            "senden Sie den Patch als application/merge-patch+json oder application/json",
            "envoyez le patch en application/merge-patch+json ou application/json",
            "envíe el patch como application/merge-patch+json o application/json",
        ],
    ),
    (
        "validation_failed",
        [
            "the request has invalid fields",
            "die Anfrage enthält ungültige Felder",
            "la requête contient des champs non valides",
            "la solicitud contiene campos no válidos",
        ],
    ),
];

/// Field error `message`s, by field error `code`, or by a key of their own where the code alone says too little.
pub(super) const FIELDS: &[(&str, Texts)] = &[
    (
        "between",
        [
            "must be between {min} and {max}",
            "muss zwischen {min} und {max} liegen",
            "doit être compris entre {min} et {max}",
            "debe estar entre {min} y {max}",
        ],
    ),
    (
        "blank",
        [
            "this field must not be blank",
            "dieses Feld darf nicht leer sein",
            "ce champ ne doit pas être vide",
            "este campo no puede estar vacío",
        ],
    ),
    (
        "blank.item",
        [
            "item {index} is blank",
            "Eintrag {index} ist leer",
            "l'élément {index} est vide",
            "el elemento {index} está vacío",
        ],
    ),
    (
        "control_character",
        [
            "must not contain control characters (U+0000-U+001F, U+007F-U+009F) or line separators",
            "darf keine Steuerzeichen (U+0000-U+001F, U+007F-U+009F) oder Zeilentrenner enthalten",
            "ne doit pas contenir de caractères de contrôle (U+0000-U+001F, U+007F-U+009F) ni de séparateurs de ligne",
            "no debe contener caracteres de control (U+0000-U+001F, U+007F-U+009F) ni separadores de línea",
        ],
    ),
    (
        "duplicate",
        [
            "this list repeats an item",
            "diese Liste wiederholt einen Eintrag",
            "cette liste répète un élément",
            "esta lista repite un elemento",
        ],
    ),
    (
        "duplicate.item",
        [
            "item {index} repeats an earlier item",
            "Eintrag {index} wiederholt einen früheren Eintrag",
            "l'élément {index} répète un élément précédent",
            "el elemento {index} repite un elemento anterior",
        ],
    ),
    (
        "email",
        [
            "this is not a valid email address",
            "dies ist keine gültige E-Mail-Adresse",
            "ce n'est pas une adresse e-mail valide",
            "esta no es una dirección de correo electrónico válida",
        ],
    ),
    (
        "invalid_format",
        [
            "this value has an invalid format",
            "dieser Wert hat ein ungültiges Format",
            "cette valeur n'a pas un format valide",
            "este valor tiene un formato no válido",
        ],
    ),
    (
        "invalid_format.date",
        [
            "must be a date in the form YYYY-MM-DD",
            "muss ein Datum im Format YYYY-MM-DD sein",
            "doit être une date au format YYYY-MM-DD",
            "debe ser una fecha con el formato YYYY-MM-DD",
        ],
    ),
    (
        "invalid_format.field_list",
        [
            "must be a comma-separated list of field names, e.g. id,revision",
            "muss eine kommagetrennte Liste von Feldnamen sein, z. B. id,revision",
            "doit être une liste de noms de champs séparés par des virgules, par ex. id,revision",
            "debe ser una lista de nombres de campo separados por comas, p. ej. id,revision",
        ],
    ),
    (
        "invalid_format.https_url",
        [
            "must be an https URL",
            "muss eine https-URL sein",
            "doit être une URL https",
            "debe ser una URL https",
        ],
    ),
    (
        "invalid_format.idempotency_key",
        [
            "an Idempotency-Key holds only visible ASCII characters (no space or control character), e.g. a UUID",
            "ein Idempotency-Key enthält nur sichtbare ASCII-Zeichen (keine Leer- oder Steuerzeichen), z. B. eine UUID",
            "une Idempotency-Key ne contient que des caractères ASCII visibles (ni espace ni caractère de contrôle), par ex. un UUID",
            "una Idempotency-Key solo contiene caracteres ASCII visibles (sin espacios ni caracteres de control), p. ej. un UUID",
        ],
    ),
    (
        "invalid_format.language_tag",
        [
            "must be a BCP 47 language tag, e.g. {example}",
            "muss ein Sprach-Tag nach BCP 47 sein, z. B. {example}",
            "doit être une étiquette de langue BCP 47, par ex. {example}",
            "debe ser una etiqueta de idioma BCP 47, p. ej. {example}",
        ],
    ),
    (
        "invalid_format.not_text",
        [
            "must be text",
            "muss Text sein",
            "doit être du texte",
            "debe ser texto",
        ],
    ),
    (
        "invalid_format.one_header",
        [
            "send one Idempotency-Key header",
            "senden Sie genau einen Idempotency-Key-Header",
            "envoyez un seul en-tête Idempotency-Key",
            "envíe una sola cabecera Idempotency-Key",
        ],
    ),
    (
        "invalid_format.phone",
        [
            "must be an E.164 phone number, e.g. +442079460000",
            "muss eine Telefonnummer im Format E.164 sein, z. B. +442079460000",
            "doit être un numéro de téléphone au format E.164, par ex. +442079460000",
            "debe ser un número de teléfono en formato E.164, p. ej. +442079460000",
        ],
    ),
    (
        "invalid_format.postal_code",
        [
            "does not match the postal code format of {country}, e.g. {example}",
            "entspricht nicht dem Postleitzahlformat von {country}, z. B. {example}",
            "ne correspond pas au format de code postal de {country}, par ex. {example}",
            "no corresponde al formato de código postal de {country}, p. ej. {example}",
        ],
    ),
    (
        "invalid_format.timestamp",
        [
            "must be an RFC 3339 timestamp, e.g. 2025-01-01T00:00:00Z",
            "muss ein Zeitstempel nach RFC 3339 sein, z. B. 2025-01-01T00:00:00Z",
            "doit être un horodatage RFC 3339, par ex. 2025-01-01T00:00:00Z",
            "debe ser una marca de tiempo RFC 3339, p. ej. 2025-01-01T00:00:00Z",
        ],
    ),
    (
        "invalid_type",
        [
            "this value has the wrong type",
            "dieser Wert hat den falschen Typ",
            "cette valeur n'a pas le bon type",
            "este valor tiene un tipo incorrecto",
        ],
    ),
    (
        "invalid_type.expected",
        [
            "this value has the wrong type: expected {expected}",
            "dieser Wert hat den falschen Typ: erwartet {expected}",
            "cette valeur n'a pas le bon type : attendu {expected}",
            "este valor tiene un tipo incorrecto: se esperaba {expected}",
        ],
    ),
    (
        "invalid_type.merge_patch",
        [
            "a merge patch must be a JSON object",
            "ein Merge-Patch muss ein JSON-Objekt sein",
            "un merge patch doit être un objet JSON",
            "un merge patch debe ser un objeto JSON",
        ],
    ),
    (
        "invalid_type.object",
        [
            "the body must be a JSON object",
            "der Body muss ein JSON-Objekt sein",
            "le corps doit être un objet JSON",
            "el cuerpo debe ser un objeto JSON",
        ],
    ),
    (
        "invalid_value",
        [
            "this value is not allowed",
            "dieser Wert ist nicht zulässig",
            "cette valeur n'est pas autorisée",
            "este valor no está permitido",
        ],
    ),
    (
        "invalid_value.country",
        [
            "must be an ISO 3166-1 alpha-2 code in upper case, e.g. GB",
            "muss ein ISO-3166-1-Alpha-2-Code in Großbuchstaben sein, z. B. GB",
            "doit être un code ISO 3166-1 alpha-2 en majuscules, par ex. GB",
            "debe ser un código ISO 3166-1 alfa-2 en mayúsculas, p. ej. GB",
        ],
    ),
    (
        "invalid_value.currency",
        [
            "must be an active ISO 4217 code in upper case, e.g. EUR",
            "muss ein gültiger ISO-4217-Code in Großbuchstaben sein, z. B. EUR",
            "doit être un code ISO 4217 en vigueur, en majuscules, par ex. EUR",
            "debe ser un código ISO 4217 vigente en mayúsculas, p. ej. EUR",
        ],
    ),
    (
        "invalid_value.cursor",
        [
            "is not a cursor this service issued",
            "ist kein Cursor, den dieser Dienst ausgegeben hat",
            "n'est pas un curseur émis par ce service",
            "no es un cursor emitido por este servicio",
        ],
    ),
    (
        "invalid_value.default_required",
        [
            "a user with addresses always has a default; make another address the default instead",
            "wer Adressen hat, hat immer eine Standardadresse; machen Sie stattdessen eine andere Adresse zur Standardadresse",
            "un utilisateur qui a des adresses a toujours une adresse par défaut ; choisissez plutôt une autre adresse par défaut",
            "un usuario con direcciones siempre tiene una predeterminada; elija otra dirección como predeterminada",
        ],
    ),
    (
        "invalid_value.event_type",
        [
            "{value} is not an event type",
            "{value} ist kein Ereignistyp",
            "{value} n'est pas un type d'événement",
            "{value} no es un tipo de evento",
        ],
    ),
    (
        "invalid_value.one_of",
        [
            "must be one of: {allowed}",
            "muss einer dieser Werte sein: {allowed}",
            "doit être l'une de ces valeurs : {allowed}",
            "debe ser uno de estos valores: {allowed}",
        ],
    ),
    (
        "invalid_value.region",
        [
            "must be one of the regions of {country} (GET /api/v1/address-formats/{country})",
            "muss eine der Regionen von {country} sein (GET /api/v1/address-formats/{country})",
            "doit être l'une des régions de {country} (GET /api/v1/address-formats/{country})",
            "debe ser una de las regiones de {country} (GET /api/v1/address-formats/{country})",
        ],
    ),
    (
        "invalid_value.timezone",
        [
            "must be an IANA time zone, e.g. Europe/Berlin",
            "muss eine IANA-Zeitzone sein, z. B. Europe/Berlin",
            "doit être un fuseau horaire IANA, par ex. Europe/Berlin",
            "debe ser una zona horaria IANA, p. ej. Europe/Berlin",
        ],
    ),
    (
        "invisible_character",
        [
            "must not contain bidirectional controls or zero-width characters",
            "darf keine bidirektionalen Steuerzeichen oder Zeichen ohne Breite enthalten",
            "ne doit pas contenir de contrôles bidirectionnels ni de caractères de largeur nulle",
            "no debe contener controles bidireccionales ni caracteres de ancho cero",
        ],
    ),
    (
        "length",
        [
            "this value has the wrong length",
            "dieser Wert hat die falsche Länge",
            "cette valeur n'a pas la bonne longueur",
            "este valor tiene una longitud incorrecta",
        ],
    ),
    (
        "length.item",
        [
            "item {index} is longer than {max} characters",
            "Eintrag {index} ist länger als {max} Zeichen",
            "l'élément {index} dépasse {max} caractères",
            "el elemento {index} supera los {max} caracteres",
        ],
    ),
    (
        "length.items",
        [
            "at most {max} items",
            "höchstens {max} Einträge",
            "au plus {max} éléments",
            "como máximo {max} elementos",
        ],
    ),
    (
        "length.max",
        [
            "must be at most {max} characters long",
            "darf höchstens {max} Zeichen lang sein",
            "doit comporter au plus {max} caractères",
            "debe tener como máximo {max} caracteres",
        ],
    ),
    (
        "length.range",
        [
            "must be {min} to {max} characters long",
            "muss {min} bis {max} Zeichen lang sein",
            "doit comporter de {min} à {max} caractères",
            "debe tener entre {min} y {max} caracteres",
        ],
    ),
    (
        "not_in_past",
        [
            "must be in the past",
            "muss in der Vergangenheit liegen",
            "doit être dans le passé",
            "debe estar en el pasado",
        ],
    ),
    (
        "out_of_range",
        [
            "this value is out of range",
            "dieser Wert liegt außerhalb des zulässigen Bereichs",
            "cette valeur est hors limites",
            "este valor está fuera del rango permitido",
        ],
    ),
    (
        "out_of_range.after",
        [
            "must be after {min}",
            "muss nach dem {min} liegen",
            "doit être postérieure au {min}",
            "debe ser posterior al {min}",
        ],
    ),
    (
        "required",
        [
            "this field is required",
            "dieses Feld ist erforderlich",
            "ce champ est obligatoire",
            "este campo es obligatorio",
        ],
    ),
    (
        "required.not_clearable",
        [
            "this field cannot be cleared",
            "dieses Feld kann nicht geleert werden",
            "ce champ ne peut pas être effacé",
            "este campo no se puede borrar",
        ],
    ),
    (
        "unknown_field",
        [
            "this field is not part of the resource or is read-only",
            "dieses Feld gehört nicht zur Ressource oder ist schreibgeschützt",
            "ce champ ne fait pas partie de la ressource ou est en lecture seule",
            "este campo no forma parte del recurso o es de solo lectura",
        ],
    ),
    (
        "unknown_field.fields",
        [
            "{name} is not a field of this resource; known fields: {known}",
            "{name} ist kein Feld dieser Ressource; bekannte Felder: {known}",
            "{name} n'est pas un champ de cette ressource ; champs connus : {known}",
            "{name} no es un campo de este recurso; campos conocidos: {known}",
        ],
    ),
];
