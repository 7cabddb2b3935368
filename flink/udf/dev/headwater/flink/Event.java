package dev.headwater.flink;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.StaticArgument;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.types.Row;

/**
 * headwater_event(payload, columns, skew_ms): one Kafka message read exactly as Headwater's
 * embedded engine reads it (src/ingest/json_events.cc, json_rows.cc, core/json_reader.cc,
 * core/time.cc ParseTimestamp), so that the Flink path accepts, refuses and reads the same
 * messages: a JSON object whose members are the batch source's columns, numbers for numeric
 * columns within their range, strings, booleans, timestamps as ISO 8601 text or epoch
 * milliseconds within [1900-01-01, now + skew], nesting at most 64 deep, UTF-8 without lone
 * surrogate escapes, the first of duplicate members.
 *
 * <p>`columns` (a literal written by `headwater compile flink`) lists the columns as
 * `flags:type:name` joined by ';'. Flags: r required (no null), b bounded timestamp, t the
 * event time, k a join key (output), v an aggregated value (output as DOUBLE). Types: i8 i16
 * i32 i64 u8 u16 u32 u64 f32 f64 bool str ts_s ts_ms ts_us ts_ns, list<type>, na (anything, read
 * as null), or x (a type JSON cannot give: any non-null member is refused).
 *
 * <p>The result: ROW(headwater_reason, headwater_us, headwater_ms, keys..., values...).
 * headwater_reason is null for a message the embedded engine accepts, else its reason (and the
 * rest is null); headwater_us is the event time in microseconds as the engine keeps it (in the
 * time column's unit, truncated), headwater_ms its floor in milliseconds.
 */
public class Event extends ScalarFunction {

  static final int MAX_DEPTH = 64;
  static final long EARLIEST_MICROS = -2208988800000000L; // 1900-01-01T00:00:00Z

  /** One column of the spec. */
  static final class Column {
    String name;
    String type;
    boolean required, bounded, time, key, value;
  }

  /** A parsed spec: its columns, by name, and the output columns in order. */
  static final class Spec {
    final List<Column> columns = new ArrayList<>();
    final Map<String, Column> byName = new HashMap<>();
    final List<Column> keys = new ArrayList<>();
    final List<Column> values = new ArrayList<>();
    Column time;

    static Spec parse(String text) {
      Spec spec = new Spec();
      for (String entry : text.split(";")) {
        String[] parts = entry.split(":", 3);
        if (parts.length != 3) throw new IllegalArgumentException("bad column spec: " + entry);
        Column c = new Column();
        c.required = parts[0].contains("r");
        c.bounded = parts[0].contains("b");
        c.time = parts[0].contains("t");
        c.key = parts[0].contains("k");
        c.value = parts[0].contains("v");
        c.type = parts[1];
        c.name = parts[2];
        spec.columns.add(c);
        spec.byName.putIfAbsent(c.name, c);
        if (c.key) spec.keys.add(c);
        if (c.value) spec.values.add(c);
        if (c.time) spec.time = c;
      }
      if (spec.time == null) throw new IllegalArgumentException("no event time column in spec");
      return spec;
    }

    DataType outputType() {
      List<DataTypes.Field> fields = new ArrayList<>();
      fields.add(DataTypes.FIELD("headwater_reason", DataTypes.STRING()));
      fields.add(DataTypes.FIELD("headwater_us", DataTypes.BIGINT()));
      fields.add(DataTypes.FIELD("headwater_ms", DataTypes.BIGINT()));
      for (Column c : keys) fields.add(DataTypes.FIELD(c.name, keyType(c.type)));
      for (Column c : values) fields.add(DataTypes.FIELD(c.name + "__value", DataTypes.DOUBLE()));
      return DataTypes.ROW(fields);
    }

    static DataType keyType(String type) {
      switch (type) {
        case "str":
          return DataTypes.STRING();
        case "i8":
          return DataTypes.TINYINT();
        case "i16":
          return DataTypes.SMALLINT();
        case "i32":
          return DataTypes.INT();
        case "i64":
          return DataTypes.BIGINT();
        default:
          throw new IllegalArgumentException("a join key of type " + type);
      }
    }
  }

  /** Thrown with the reason a message is refused. */
  static final class Refused extends Exception {
    Refused(String reason) {
      super(reason, null, false, false);
    }
  }

  private static final JsonFactory FACTORY = new JsonFactory();
  private transient String specText;
  private transient Spec spec;

  @Override
  public void open(FunctionContext context) {
    specText = null;
  }

  @Override
  public TypeInference getTypeInference(DataTypeFactory typeFactory) {
    return TypeInference.newBuilder()
        .staticArguments(
            StaticArgument.scalar("payload", DataTypes.BYTES(), false),
            StaticArgument.scalar("columns", DataTypes.STRING(), false),
            StaticArgument.scalar("skew_ms", DataTypes.BIGINT(), false))
        .outputTypeStrategy(
            call -> {
              Optional<String> text = call.getArgumentValue(1, String.class);
              if (!text.isPresent()) {
                throw call.newValidationError("headwater_event's columns must be a literal");
              }
              return Optional.of(Spec.parse(text.get()).outputType());
            })
        .build();
  }

  /** The last message read on this thread and its row. */
  private static final class Last {
    byte[] payload;
    String columns;
    Row row;
    long at; // when it was read: the time bounds move with the clock
  }

  private static final ThreadLocal<Last> LAST = ThreadLocal.withInitial(Last::new);

  public Row eval(byte[] payload, String columns, Long skewMillis) {
    // The job calls this twice per message, in one thread: for the watermark (in the source)
    // and for the columns (in the next operator, on a copy of the message). Read it once.
    Last last = LAST.get();
    final long now = System.currentTimeMillis();
    if (payload != null
        && now - last.at < 1000
        && columns.equals(last.columns)
        && java.util.Arrays.equals(payload, last.payload)) {
      return last.row;
    }
    Row row = read(payload, columns, skewMillis);
    last.payload = payload;
    last.columns = columns;
    last.row = row;
    last.at = now;
    return row;
  }

  private Row read(byte[] payload, String columns, Long skewMillis) {
    if (!columns.equals(specText)) {
      spec = Spec.parse(columns);
      specText = columns;
    }
    final int width = 3 + spec.keys.size() + spec.values.size();
    Row out = new Row(width);
    if (payload == null) {
      out.setField(0, "the message is empty");
      return out;
    }
    try {
      read(payload, skewMillis == null ? 0 : skewMillis, out);
    } catch (Refused refused) {
      out = new Row(width);
      out.setField(0, refused.getMessage());
    }
    return out;
  }

  private void read(byte[] payload, long skewMillis, Row out) throws Refused {
    checkText(payload);
    final long now = System.currentTimeMillis();
    final long latest =
        skewMillis > (Long.MAX_VALUE / 1000 - now) ? Long.MAX_VALUE : (now + skewMillis) * 1000;
    Object[] cells = new Object[spec.columns.size()];
    boolean[] seen = new boolean[spec.columns.size()];
    try (JsonParser parser = FACTORY.createParser(payload)) {
      JsonToken first = parser.nextToken();
      if (first == null) throw new Refused("the message is not valid JSON: The document is empty.");
      if (first != JsonToken.START_OBJECT) {
        skipValue(parser);
        throw new Refused("the message is " + describe(parser, first) + ", not an object");
      }
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        final String name = parser.currentName();
        final JsonToken valueToken = parser.nextToken();
        int index = indexOf(name);
        if (index < 0 || seen[index]) {
          skipValue(parser);
          continue;
        }
        seen[index] = true;
        Column c = spec.columns.get(index);
        if (valueToken == JsonToken.VALUE_NULL) continue;
        try {
          cells[index] = readValue(parser, valueToken, c.type);
        } catch (Refused refused) {
          skipRest(parser);
          throw new Refused("field '" + c.name + "': " + refused.getMessage());
        }
        if (c.bounded && cells[index] instanceof Long) {
          long micros = (Long) cells[index];
          if (micros > latest) {
            skipRest(parser);
            throw new Refused(
                "field '" + c.name + "': " + formatMicros(micros) + " is later than now + "
                    + formatDuration(skewMillis * 1000) + " (max_event_time_skew in feature_store.yaml)");
          }
          if (micros < EARLIEST_MICROS) {
            skipRest(parser);
            throw new Refused(
                "field '" + c.name + "': " + formatMicros(micros)
                    + " is before 1900-01-01T00:00:00Z, the earliest event time accepted");
          }
        }
      }
      if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
        throw new Refused("the message is not valid JSON");
      }
    } catch (java.io.IOException e) {
      throw new Refused("the message is not valid JSON: " + firstLine(e.getMessage()));
    }
    for (int i = 0; i < cells.length; ++i) {
      Column c = spec.columns.get(i);
      if (c.required && cells[i] == null && spec.byName.get(c.name) == c) {
        throw new Refused("field '" + c.name + "' is missing or null");
      }
    }
    int field = 3;
    for (Column c : spec.keys) {
      Object cell = cells[spec.columns.indexOf(c)];
      out.setField(field++, keyValue(c.type, cell));
    }
    for (Column c : spec.values) {
      Object cell = cells[spec.columns.indexOf(c)];
      out.setField(field++, cell == null ? null : asDouble(c.type, cell));
    }
    long micros = (Long) cells[spec.columns.indexOf(spec.time)];
    long kept = asEngineMicros(spec.time.type, micros);
    out.setField(1, kept);
    out.setField(2, Math.floorDiv(kept, 1000L));
  }

  private int indexOf(String name) {
    Column c = spec.byName.get(name);
    return c == null ? -1 : spec.columns.indexOf(c);
  }

  // The cell as the engine keeps it: Long (integers, timestamps in micros), Double, Boolean,
  // String, or Boolean.TRUE for a list (checked, not kept).
  private static Object readValue(JsonParser parser, JsonToken token, String type)
      throws Refused, java.io.IOException {
    if (type.startsWith("list<")) {
      if (token != JsonToken.START_ARRAY) {
        String got = describe(parser, token);
        skipValue(parser);
        throw new Refused("expected a list, got " + got);
      }
      String element = type.substring(5, type.length() - 1);
      int e = 0;
      JsonToken next;
      while ((next = parser.nextToken()) != JsonToken.END_ARRAY) {
        if (next != JsonToken.VALUE_NULL) {
          try {
            readValue(parser, next, element);
          } catch (Refused refused) {
            throw new Refused("[" + e + "]: " + refused.getMessage());
          }
        }
        ++e;
      }
      return Boolean.TRUE;
    }
    switch (type) {
      case "i8":
        return integer(parser, token, -(1L << 7), (1L << 7) - 1, "int8");
      case "i16":
        return integer(parser, token, -(1L << 15), (1L << 15) - 1, "int16");
      case "i32":
        return integer(parser, token, Integer.MIN_VALUE, Integer.MAX_VALUE, "int32");
      case "i64":
        return integer(parser, token, Long.MIN_VALUE, Long.MAX_VALUE, "int64");
      case "u8":
        return integer(parser, token, 0, 255, "uint8");
      case "u16":
        return integer(parser, token, 0, 65535, "uint16");
      case "u32":
        return integer(parser, token, 0, 4294967295L, "uint32");
      case "u64":
        return integer(parser, token, 0, Long.MAX_VALUE, "uint64");
      case "f32":
      case "f64":
        {
          if (!token.isNumeric()) throw expected("a number", parser, token);
          double v = number(parser, token);
          if (type.equals("f32") && Math.abs(v) > Float.MAX_VALUE) {
            throw new Refused(v + " is out of range for float");
          }
          return v;
        }
      case "bool":
        if (!token.isBoolean()) throw expected("true or false", parser, token);
        return token == JsonToken.VALUE_TRUE;
      case "str":
        if (token != JsonToken.VALUE_STRING) throw expected("a string", parser, token);
        return parser.getText();
      case "ts_s":
      case "ts_ms":
      case "ts_us":
      case "ts_ns":
        {
          long micros;
          if (token.isNumeric()) {
            double millis = number(parser, token);
            if (!Double.isFinite(millis) || Math.abs(millis) > 9.2e15) {
              throw new Refused(millis + " is out of range for a timestamp");
            }
            // llround: halves away from zero.
            double scaled = millis * 1000;
            micros = scaled < 0 ? -Math.round(-scaled) : Math.round(scaled);
          } else if (token == JsonToken.VALUE_STRING) {
            micros = parseTimestamp(parser.getText());
          } else {
            throw expected("an ISO 8601 timestamp or epoch milliseconds", parser, token);
          }
          if (type.equals("ts_ns") && Math.abs(micros) > Long.MAX_VALUE / 1000) {
            throw new Refused(formatMicros(micros) + " is out of range for timestamp[ns]");
          }
          return micros;
        }
      case "na": // any value, read as null
        skipValue(parser);
        return null;
      default:
        skipValue(parser);
        throw new Refused("a column of this type cannot be read from JSON");
    }
  }

  private static Long integer(JsonParser parser, JsonToken token, long min, long max, String type)
      throws Refused, java.io.IOException {
    if (token != JsonToken.VALUE_NUMBER_INT) {
      if (token == JsonToken.VALUE_NUMBER_FLOAT) number(parser, token); // too big: not JSON
      throw expected("an integer", parser, token);
    }
    java.math.BigInteger v = parser.getBigIntegerValue();
    if (v.bitLength() > 64 || (v.signum() < 0 && v.bitLength() > 63)) {
      if (!Double.isFinite(v.doubleValue())) throw new Refused("Number too big to be stored in double");
      throw expected("an integer", parser, token); // beyond 64 bits: a double to the engine
    }
    if (v.compareTo(java.math.BigInteger.valueOf(min)) < 0
        || v.compareTo(java.math.BigInteger.valueOf(max)) > 0) {
      throw new Refused(v + " is out of range for " + type);
    }
    return v.longValue();
  }

  // A number as a double, refusing what does not fit one (the engine's JSON parser does).
  private static double number(JsonParser parser, JsonToken token)
      throws Refused, java.io.IOException {
    double v =
        token == JsonToken.VALUE_NUMBER_INT
            ? parser.getBigIntegerValue().doubleValue()
            : Double.parseDouble(parser.getText());
    if (Double.isInfinite(v)) throw new Refused("Number too big to be stored in double");
    return v;
  }

  private static Refused expected(String what, JsonParser parser, JsonToken token)
      throws java.io.IOException {
    String got = describe(parser, token);
    skipValue(parser);
    return new Refused("expected " + what + ", got " + got);
  }

  private static String describe(JsonParser parser, JsonToken token) throws java.io.IOException {
    switch (token) {
      case VALUE_STRING:
        {
          String text = parser.getText();
          return "the string \"" + (text.length() > 40 ? text.substring(0, 40) : text) + "\"";
        }
      case VALUE_NULL:
        return "null";
      case VALUE_TRUE:
      case VALUE_FALSE:
        return "a boolean";
      case VALUE_NUMBER_INT:
        return "an integer";
      case VALUE_NUMBER_FLOAT:
        return "a non-integer number";
      case START_ARRAY:
        return "an array";
      default:
        return "an object";
    }
  }

  private static void skipValue(JsonParser parser) throws java.io.IOException {
    JsonToken token = parser.currentToken();
    if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
      parser.skipChildren();
    } else if (token == JsonToken.VALUE_NUMBER_FLOAT || token == JsonToken.VALUE_NUMBER_INT) {
      // Every number must fit a double, read or not, as for the engine's parser.
      double v =
          token == JsonToken.VALUE_NUMBER_INT
              ? parser.getBigIntegerValue().doubleValue()
              : Double.parseDouble(parser.getText());
      if (Double.isInfinite(v)) throw new java.io.IOException("Number too big to be stored in double");
    }
  }

  // The rest of the document must still be JSON: the engine parses it whole before reading it.
  private static void skipRest(JsonParser parser) throws Refused {
    try {
      while (parser.nextToken() != null) skipValue(parser);
    } catch (java.io.IOException e) {
      throw new Refused("the message is not valid JSON: " + firstLine(e.getMessage()));
    }
  }

  private static String firstLine(String message) {
    if (message == null) return "";
    int end = message.indexOf('\n');
    return end < 0 ? message : message.substring(0, end);
  }

  private static Object keyValue(String type, Object cell) {
    if (cell == null) return null;
    switch (type) {
      case "i8":
        return ((Long) cell).byteValue();
      case "i16":
        return ((Long) cell).shortValue();
      case "i32":
        return ((Long) cell).intValue();
      default:
        return cell;
    }
  }

  // As the engine aggregates a cell: integers converted to double, float32 narrowed first.
  private static Double asDouble(String type, Object cell) {
    if (cell instanceof Double) {
      double v = (Double) cell;
      return type.equals("f32") ? (double) (float) v : v;
    }
    if (cell instanceof Long) return (double) (Long) cell;
    return null;
  }

  // Microseconds kept in the column's unit (truncated, as C++ divides) and read back.
  private static long asEngineMicros(String type, long micros) {
    switch (type) {
      case "ts_s":
        return micros / 1_000_000 * 1_000_000;
      case "ts_ms":
        return micros / 1000 * 1000;
      default:
        return micros;
    }
  }

  // Depth and lone surrogate escapes, as core/json_reader.cc CheckJsonText; UTF-8 as the
  // engine's parser validates it.
  static void checkText(byte[] text) throws Refused {
    if (!isUtf8(text)) {
      throw new Refused("the message is not valid JSON: Invalid encoding in string.");
    }
    int depth = 0;
    int i = 0;
    final int size = text.length;
    while (i < size) {
      byte b = text[i];
      if (b == '[' || b == '{') {
        if (++depth > MAX_DEPTH) {
          throw new Refused(
              "the message nests arrays and objects more than " + MAX_DEPTH
                  + " deep (the limit) at offset " + i);
        }
        ++i;
        continue;
      }
      if (b == ']' || b == '}') {
        --depth;
        ++i;
        continue;
      }
      if (b != '"') {
        ++i;
        continue;
      }
      boolean afterHigh = false;
      for (++i; i < size; ++i) {
        if (text[i] == '"') break;
        if (text[i] != '\\') {
          afterHigh = false;
          continue;
        }
        int unit = escapedUnit(text, i);
        if (unit >= 0xDC00 && unit <= 0xDFFF && !afterHigh) {
          throw new Refused(
              "the message has a lone surrogate escape \\u"
                  + new String(text, i + 2, 4, StandardCharsets.US_ASCII)
                  + " (not a character) at offset " + i);
        }
        if (afterHigh && !(unit >= 0xDC00 && unit <= 0xDFFF)) {
          throw new Refused("the message is not valid JSON: The surrogate pair in string is invalid.");
        }
        afterHigh = unit >= 0xD800 && unit <= 0xDBFF;
        i += unit >= 0 ? 5 : 1;
      }
      if (afterHigh) {
        throw new Refused("the message is not valid JSON: The surrogate pair in string is invalid.");
      }
      ++i;
    }
  }

  // RFC 3629 UTF-8: no overlong forms, no encoded surrogates, nothing above U+10FFFF.
  static boolean isUtf8(byte[] text) {
    int i = 0;
    final int n = text.length;
    while (i < n) {
      int b = text[i] & 0xFF;
      if (b < 0x80) {
        ++i;
        continue;
      }
      int length, min;
      if (b >= 0xC2 && b <= 0xDF) {
        length = 2;
        min = 0x80;
      } else if (b >= 0xE0 && b <= 0xEF) {
        length = 3;
        min = 0x800;
      } else if (b >= 0xF0 && b <= 0xF4) {
        length = 4;
        min = 0x10000;
      } else {
        return false;
      }
      if (i + length > n) return false;
      int code = b & (0x7F >> length);
      for (int k = 1; k < length; ++k) {
        int c = text[i + k] & 0xFF;
        if ((c & 0xC0) != 0x80) return false;
        code = (code << 6) | (c & 0x3F);
      }
      if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
      i += length;
    }
    return true;
  }

  private static int escapedUnit(byte[] text, int i) {
    if (i + 5 >= text.length || text[i + 1] != 'u') return -1;
    int value = 0;
    for (int k = i + 2; k < i + 6; ++k) {
      int digit = Character.digit(text[k], 16);
      if (digit < 0) return -1;
      value = value * 16 + digit;
    }
    return value;
  }

  // ISO 8601 as core/time.cc ParseTimestamp reads it: a date, optionally 'T' or ' ' and
  // hh:mm[:ss[.fraction]], optionally Z or ±hh[:mm]; microseconds since the epoch.
  static long parseTimestamp(String text) throws Refused {
    Refused invalid =
        new Refused(
            "'" + text + "' is not an ISO 8601 timestamp (expected e.g. 2024-05-01, "
                + "2024-05-01T10:00:00, 2024-05-01 10:00:00.5+02:00)");
    int[] pos = {0};
    int year = digits(text, pos, 4), month, day;
    if (year < 0 || !consume(text, pos, '-') || (month = digits(text, pos, 2)) < 0
        || !consume(text, pos, '-') || (day = digits(text, pos, 2)) < 0) {
      throw invalid;
    }
    if (month < 1 || month > 12 || day < 1 || day > java.time.YearMonth.of(year, month).lengthOfMonth()) {
      throw invalid;
    }
    long micros = java.time.LocalDate.of(year, month, day).toEpochDay() * 86_400_000_000L;
    if (pos[0] < text.length() && (text.charAt(pos[0]) == 'T' || text.charAt(pos[0]) == ' ')) {
      ++pos[0];
      int hour = digits(text, pos, 2), minute, second = 0;
      if (hour < 0 || !consume(text, pos, ':') || (minute = digits(text, pos, 2)) < 0) {
        throw invalid;
      }
      if (consume(text, pos, ':')) {
        if ((second = digits(text, pos, 2)) < 0) throw invalid;
        if (consume(text, pos, '.') || consume(text, pos, ',')) {
          long fraction = 0;
          int count = 0;
          while (pos[0] < text.length()
              && text.charAt(pos[0]) >= '0'
              && text.charAt(pos[0]) <= '9') {
            if (count < 6) fraction = fraction * 10 + (text.charAt(pos[0]) - '0');
            ++count;
            ++pos[0];
          }
          if (count == 0) throw invalid;
          for (int d = count; d < 6; ++d) fraction *= 10;
          micros += fraction;
        }
      }
      if (hour > 23 || minute > 59 || second > 60) throw invalid;
      micros += ((hour * 60L + minute) * 60L + second) * 1_000_000L;
    }
    if (pos[0] < text.length()) {
      char sign = text.charAt(pos[0]);
      if (sign == 'Z' || sign == 'z') {
        ++pos[0];
      } else if (sign == '+' || sign == '-') {
        ++pos[0];
        int hours = digits(text, pos, 2), minutes = 0;
        if (hours < 0) throw invalid;
        if (consume(text, pos, ':')) {
          if ((minutes = digits(text, pos, 2)) < 0) throw invalid;
        } else if (pos[0] < text.length()) {
          if ((minutes = digits(text, pos, 2)) < 0) throw invalid;
        }
        if (hours > 23 || minutes > 59) throw invalid;
        long offset = (hours * 60L + minutes) * 60L * 1_000_000L;
        micros += sign == '+' ? -offset : offset;
      }
    }
    if (pos[0] != text.length()) throw invalid;
    return micros;
  }

  private static int digits(String text, int[] pos, int count) {
    if (pos[0] + count > text.length()) return -1;
    int value = 0;
    for (int k = 0; k < count; ++k) {
      char c = text.charAt(pos[0] + k);
      if (c < '0' || c > '9') return -1;
      value = value * 10 + (c - '0');
    }
    pos[0] += count;
    return value;
  }

  private static boolean consume(String text, int[] pos, char c) {
    if (pos[0] < text.length() && text.charAt(pos[0]) == c) {
      ++pos[0];
      return true;
    }
    return false;
  }

  // As core/time.cc FormatTimestamp: 2026-01-02T03:04:05[.ffffff]Z, or <n>us beyond years 0-9999.
  static String formatMicros(long micros) {
    long days = Math.floorDiv(micros, 86_400_000_000L);
    long rest = Math.floorMod(micros, 86_400_000_000L);
    java.time.LocalDate date = java.time.LocalDate.ofEpochDay(days);
    if (date.getYear() < 0 || date.getYear() > 9999) return micros + "us";
    long seconds = rest / 1_000_000L;
    long fraction = rest % 1_000_000L;
    String text =
        String.format(
            "%04d-%02d-%02dT%02d:%02d:%02d",
            date.getYear(),
            date.getMonthValue(),
            date.getDayOfMonth(),
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60);
    if (fraction != 0) text += String.format(".%06d", fraction);
    return text + "Z";
  }

  // As core/time.cc FormatDuration: the largest unit that divides it.
  static String formatDuration(long micros) {
    if (micros == 0) return "0";
    final long[] units = {86_400_000_000L, 3_600_000_000L, 60_000_000L, 1_000_000L, 1000L, 1L};
    final String[] suffixes = {"d", "h", "m", "s", "ms", "us"};
    for (int u = 0; u < units.length; ++u) {
      if (micros % units[u] == 0) return (micros / units[u]) + suffixes[u];
    }
    return micros + "us";
  }
}
