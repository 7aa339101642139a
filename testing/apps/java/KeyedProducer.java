// Kafka's Java producer (kafka-clients, default partitioner) writing one
// record per key read from standard input (UTF-8, one key a line; an empty
// line is the empty key), value "java:<key>", then flushing. Used by
// testing/apps/tests/partitioning.rs to compare where Java and Weir put the
// same keys. Run with Java's source launcher:
//   java -cp "$WEIR_CACHE/kafka-4.3.1/libs/*" KeyedProducer.java <bootstrap> <topic>
// Prints "sent <n>" when every record is acknowledged.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class KeyedProducer {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: KeyedProducer <bootstrap-servers> <topic>");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        // No partitioner.class: the default partitioner is what is compared.
        int sent = 0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props);
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String key;
            while ((key = in.readLine()) != null) {
                producer.send(new ProducerRecord<>(args[1], key, "java:" + key)).get();
                sent++;
            }
            producer.flush();
        }
        System.out.println("sent " + sent);
    }
}
