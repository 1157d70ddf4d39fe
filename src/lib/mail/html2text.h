/*
 * html2text.h - HTML to plain text, for content filtering
 * (convert_html_to_plaintext) where Mailman 2.1 ran lynx -dump.
 *
 * The layout is lynx's, roughly: block elements start new lines,
 * paragraphs and headings are set off by blank lines, list items read
 * "* item" (ordered lists "1. item"), links "text <url>", blockquotes are
 * quoted with "> ", <pre> is kept verbatim, a table row is one line with
 * its cells separated by " | ", and <script>, <style> and <head> are
 * dropped.  Outside <pre> whitespace is collapsed and lines are wrapped at
 * HTML2TEXT_WIDTH columns, at spaces only, counting East Asian wide
 * characters as two columns.  docs/content-filter.md has the details.
 *
 * The input may be anything: any depth of nesting, any length, broken
 * markup, bytes that are not in its charset.  Time and memory are linear
 * in its length.
 */
#ifndef HERALD_HTML2TEXT_H
#define HERALD_HTML2TEXT_H

#include <stddef.h>

#define HTML2TEXT_WIDTH 72

/* The text of len bytes of HTML in charset (a MIME or iconv charset name;
 * NULL when unknown: UTF-8 if the bytes are valid UTF-8, else a <meta>
 * charset found near the start, else windows-1252).  Bytes that are not
 * valid in the charset become U+FFFD.  Returns newly allocated UTF-8 text,
 * each line ended by "\n"; "" when there is no text.  Never fails. */
char *html2text(const char *html, size_t len, const char *charset);

#endif
