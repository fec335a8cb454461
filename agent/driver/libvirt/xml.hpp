#pragma once
// Just enough XML for libvirt's documents: escaping for the ones we write, and a parsed document
// with XPath look-ups and small edits for the ones we read back and change (libxml2).
#include <libxml/tree.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::agent::libvirt::xml {

// The namespace of the <metadata> element vpsfleet keeps in each domain it defines.
inline constexpr const char* k_metadata_ns = "https://vpsfleet.dev/xmlns/vm/1";
inline constexpr const char* k_metadata_prefix = "vpsfleet";

struct parse_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Escapes &, <, >, " and ' for text and attribute values.
std::string escape(std::string_view text);

class document {
  public:
    // Throws parse_error on malformed XML.
    explicit document(const std::string& text);

    // Nodes matching an XPath expression, relative to `context` (the root when null). The prefix
    // "vpsfleet" names k_metadata_ns.
    std::vector<xmlNodePtr> select(const std::string& xpath, xmlNodePtr context = nullptr) const;
    xmlNodePtr first(const std::string& xpath, xmlNodePtr context = nullptr) const;
    // The attribute, or the text of the first match (`@attr` selects attributes too).
    std::optional<std::string> value(const std::string& xpath, xmlNodePtr context = nullptr) const;

    static std::optional<std::string> attribute(xmlNodePtr node, const char* name);
    static std::string text(xmlNodePtr node);
    static void set_attribute(xmlNodePtr node, const char* name, const std::string& value);
    // The named child, created when missing.
    static xmlNodePtr child(xmlNodePtr parent, const char* name);
    static void set_text(xmlNodePtr node, const std::string& text);
    static void remove(xmlNodePtr node);

    xmlNodePtr root() const;
    std::string str() const;
    // One element and what it holds, as text.
    std::string str(xmlNodePtr node) const;

  private:
    struct doc_free {
        void operator()(xmlDocPtr d) const { xmlFreeDoc(d); }
    };
    std::unique_ptr<xmlDoc, doc_free> doc_;
};

}  // namespace vpsfleet::agent::libvirt::xml
