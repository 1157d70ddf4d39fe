/*
 * names.h - the names of herald's queues and of the keys of a queue
 * entry's metadata, written once.
 *
 * A queue name or a metadata key spelled as a string literal elsewhere is
 * a typo waiting to fail silently (a message written to a queue no runner
 * works, a key nobody reads); tests/integration/layout.sh fails the build's
 * tests when one appears outside this file.  docs/formats.md says what
 * each key holds.
 */
#ifndef HERALD_NAMES_H
#define HERALD_NAMES_H

/* Queues (directories under queue/). */
#define QUEUE_IN "in"			/* list posts and owner mail */
#define QUEUE_VIRGIN "virgin"		/* herald's own notices */
#define QUEUE_OUT "out"			/* delivery to the members */
#define QUEUE_RETRY "retry"		/* deferred recipients */
#define QUEUE_BOUNCES "bounces"		/* DSNs and bounce events */
#define QUEUE_COMMANDS "commands"	/* -request, -join, -leave, -confirm */
#define QUEUE_ARCHIVE "archive"		/* posts for the archive */
#define QUEUE_DIGEST "digest"		/* posts for the digests */
#define QUEUE_SHUNT "shunt"		/* failed, resumable by unshunt */
#define QUEUE_BAD "bad"			/* unreadable or struck out */
#define QUEUE_WEBHOOKS "webhooks"	/* events for the webhooks */
#define QUEUE_NEWS "news"		/* posts for the linked newsgroup */

/* Metadata keys. */
#define META_LIST "list"		/* name@domain */
#define META_KIND "kind"		/* post, owner, request, ... */
/* The kind of a commands-queue entry the web interface writes for an RFC
 * 8058 one-click unsubscription (META_MEMBER: the address). */
#define KIND_ONECLICK "oneclick"
/* An entry holding several whole entries of its queue (store/queue.h,
 * "bundles"); META_BUNDLE: how many. */
#define KIND_BUNDLE "bundle"
#define META_BUNDLE "bundle"
#define META_SENDER "sender"		/* envelope sender */
#define META_RECIPIENT "recipient"	/* envelope recipient */
#define META_RECEIVED "received"	/* when herald stored it */
#define META_MESSAGE_ID "message-id"
#define META_SUBJECT "subject"
#define META_POSTER "poster"
#define META_MEMBER "member"
#define META_RCPT "rcpt"		/* a delivery recipient (repeated) */
#define META_POST_ID "post-id"		/* the list's post number */
#define META_POST_SIZE "post-size"
#define META_POST_BODY_SIZE "post-body-size"
#define META_PIPELINE "pipeline"	/* handlers still to run */
#define META_APPROVED "approved"
#define META_APPROVED_BY "approved-by"
#define META_HOLD_REASON "hold-reason"
#define META_HOLD_QUIET "hold-quiet"
#define META_HOLD_HANDLER "hold-handler"
#define META_HELD_AT "held-at"
#define META_DMARC "dmarc"
#define META_DMARC_POLICY "dmarc-policy"
/* The domain whose DKIM signature survived, so that the post went out
 * unmunged (dmarc_unmunged_if_dkim_intact). */
#define META_DMARC_DKIM "dmarc-dkim-intact"
#define META_DECORATED "decorated"
#define META_NODECORATE "nodecorate"
#define META_WHICHQ "whichq"		/* the queue a shunted entry left */
#define META_SHUNT_REASON "shunt-reason"
#define META_BAK_COUNT "bak-count"	/* strikes: claims left by a crash */
#define META_PROGRESS_SEEN "progress-seen"
#define META_FIRST_ATTEMPT "first-attempt"
#define META_ATTEMPT "attempt"
/* Webhook events (store/webhook.h). */
#define META_WEBHOOK "webhook"		/* the webhook's id */
#define META_EVENT "event"		/* member.subscribed, ... */
#define META_SEQUENCE "sequence"	/* the list's event number */
#define META_NEXT_ATTEMPT "next-attempt"	/* epoch seconds */
/* Authentication on entry (pipeline/pipe_auth.c). */
#define META_AUTH_DKIM "auth-dkim"	/* each DKIM signature's result */
#define META_ARC_CV "arc-cv"		/* none, pass or fail */
#define META_AUTH_RESULTS "auth-results"	/* for ARC-Authentication-Results */
/* The topics a post matched (pipeline/pipe_topics.c; repeated). */
#define META_TOPIC "topic"
/* The mail-news gateway (docs/news.md): a post that came from the
 * newsgroup (news.gate; Mailman's fromusenet), and the post's Subject as
 * the poster wrote it, for news_prefix_subject_too off. */
#define META_FROM_USENET "from-usenet"
#define META_ORIG_SUBJECT "orig-subject"
/* A news-queue entry that holds the article itself (runners/news.c). */
#define META_NEWS_PREPARED "news-prepared"

#endif
